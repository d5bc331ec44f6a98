import { encode } from '@drover/protocol';
import type { z } from 'zod';

// Job params and a run's params travel to the worker in one `run_job` NATS
// message (and from there with the run's tasks), so together they must stay
// well under NATS's max_payload: half of its default 1 MiB, leaving room for
// the rest of the message. The API refuses more, naming the field; a run that
// slips through (an older row, a smaller max_payload) fails at dispatch.

export const MAX_PARAMS_BYTES = 512 * 1024;

/** Bytes a params value takes in `run_job` (msgpack). */
export function paramsBytes(value: unknown): number {
  return value === undefined || value === null ? 0 : encode(value).byteLength;
}

export function paramsTooLarge(what: string, bytes: number): string {
  return `${what} ${bytes} bytes (msgpack), over the ${MAX_PARAMS_BYTES}-byte limit for a job's params and a run's params together; pass a reference to large data instead`;
}

/** A zod refinement for a job spec: its jobParams alone must fit. */
export function refineJobParamsSize(spec: { jobParams?: unknown }, ctx: z.RefinementCtx): void {
  const bytes = paramsBytes(spec.jobParams);
  if (bytes > MAX_PARAMS_BYTES)
    ctx.addIssue({
      code: 'custom',
      path: ['jobParams'],
      message: paramsTooLarge('they take', bytes),
    });
}
