import type { ParamsSchema, Processor } from '../sdk/processor.js';
import type { StandardSchemaIssue } from '../sdk/standard-schema.js';

// No params at all (stored as null) read as whichever of these the schema
// takes first: a schema with defaults (`z.object({ n: z.number().default(1) })`)
// then gets them, as a user who gave no params expects.
const NO_PARAMS: readonly unknown[] = [null, undefined, {}];

/** A run's params (its own, or the job's when it has none), checked by the processor's schema. */
export function parseRunParams(
  processor: Processor,
  run: { instanceParams: unknown; jobParams: unknown },
): { ok: true; params: unknown } | { ok: false; result: string } {
  const raw = run.instanceParams ?? run.jobParams;
  if (!processor.params) return { ok: true, params: raw };
  const none = raw === null || raw === undefined;
  let problem = '';
  for (const value of none ? NO_PARAMS : [raw]) {
    const checked = checkParams(processor.params, value);
    if (checked.ok) return checked;
    problem ||= checked.problem; // the first reading's: null, for no params
  }
  const given = none ? ' (the run and its job have no params)' : '';
  return {
    ok: false,
    result: `invalid params for processor "${processor.name}": ${problem}${given}`,
  };
}

/**
 * Checks params with any Standard Schema (zod 3 or 4, ...), synchronously as
 * zod's own `safeParse` does: a schema that only validates asynchronously is refused.
 */
function checkParams(
  schema: ParamsSchema<unknown>,
  raw: unknown,
): { ok: true; params: unknown } | { ok: false; problem: string } {
  const standard = schema['~standard'];
  if (typeof standard?.validate !== 'function')
    return { ok: false, problem: 'its params schema is not a Standard Schema (zod 3.24+ or 4)' };
  const checked = standard.validate(raw);
  if (checked instanceof Promise) {
    checked.catch(() => undefined);
    return { ok: false, problem: 'its params schema validates asynchronously (not supported)' };
  }
  if (!checked.issues) return { ok: true, params: checked.value };
  return { ok: false, problem: checked.issues.map(describeIssue).join('; ') };
}

function describeIssue(issue: StandardSchemaIssue): string {
  const path = (issue.path ?? []).map((p) =>
    typeof p === 'object' && p !== null && 'key' in p ? String(p.key) : String(p),
  );
  return `${path.join('.') || '(params)'}: ${issue.message}`;
}
