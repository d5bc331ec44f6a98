import type { JsonValue } from '@drover/protocol';
import { Environment } from '@marcbachmann/cel-js';

// A decision node's expression: CEL (a side-effect-free expression language,
// never eval), over `context` (the run's context) and `params` (its init params).
// Checked when the workflow is saved, so a typo is a 400 rather than a failed run.

const cel = new Environment().registerVariable('context', 'map').registerVariable('params', 'dyn');

/** The first line of a cel-js error (the rest draws a caret under the expression). */
function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0] || 'unknown error';
}

/**
 * Why an expression cannot be a decision (it does not parse, names something
 * other than `context` or `params`, or its type is known and not a boolean),
 * or undefined when it can. A `dyn` type (e.g. `context.ok`) is only known at run time.
 */
export function decisionProblem(expression: string): string | undefined {
  const checked = cel.check(expression);
  if (!checked.valid) {
    const message = firstLine(checked.error);
    return /^Unknown variable/.test(message)
      ? `${message} (a decision reads only context and params)`
      : message;
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn')
    return `the expression gives a ${checked.type}, not a bool`;
  return undefined;
}

export type DecisionOutcome = { ok: true; value: boolean } | { ok: false; reason: string };

export function evaluateDecision(
  nodeId: string,
  expression: string,
  context: Record<string, JsonValue>,
  params: JsonValue | null,
): DecisionOutcome {
  let value: unknown;
  try {
    value = cel.evaluate(expression, { context, params });
  } catch (err) {
    return { ok: false, reason: `decision "${nodeId}": ${firstLine(err)}` };
  }
  if (typeof value !== 'boolean') {
    return {
      ok: false,
      reason: `decision "${nodeId}": the expression gave ${typeof value === 'bigint' ? 'an int' : JSON.stringify(value)}, not a boolean`,
    };
  }
  return { ok: true, value };
}
