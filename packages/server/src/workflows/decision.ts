import type { JsonValue } from '@drover/protocol';
import { evaluate } from '@marcbachmann/cel-js';

// A decision node's expression: CEL (a side-effect-free expression language,
// never eval), over `context` (the run's context) and `params` (its init params).

export type DecisionOutcome = { ok: true; value: boolean } | { ok: false; reason: string };

export function evaluateDecision(
  nodeId: string,
  expression: string,
  context: Record<string, JsonValue>,
  params: JsonValue | null,
): DecisionOutcome {
  let value: unknown;
  try {
    value = evaluate(expression, { context, params });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? 'unknown error';
    return { ok: false, reason: `decision "${nodeId}": ${message}` };
  }
  if (typeof value !== 'boolean') {
    return {
      ok: false,
      reason: `decision "${nodeId}": the expression gave ${typeof value === 'bigint' ? 'an int' : JSON.stringify(value)}, not a boolean`,
    };
  }
  return { ok: true, value };
}
