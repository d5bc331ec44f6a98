import type { Processor } from '../sdk/processor.js';

/** A run's params (its own, or the job's when it has none), checked by the processor's schema. */
export function parseRunParams(
  processor: Processor,
  run: { instanceParams: unknown; jobParams: unknown },
): { ok: true; params: unknown } | { ok: false; result: string } {
  const raw = run.instanceParams ?? run.jobParams;
  if (!processor.params) return { ok: true, params: raw };
  const parsed = processor.params.safeParse(raw);
  if (parsed.success) return { ok: true, params: parsed.data };
  const issues = parsed.error.issues
    .map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`)
    .join('; ');
  return { ok: false, result: `invalid params for processor "${processor.name}": ${issues}` };
}
