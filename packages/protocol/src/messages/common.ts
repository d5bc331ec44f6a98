import { z } from 'zod';
import { Count, DecimalId, EpochMs, OpaqueId } from '../tokens.js';
import { JsonResult } from './json-result.js';

export type { JsonValue } from './json-result.js';
export { JsonResult, MAX_RESULT_CHARS, resultChars } from './json-result.js';

// Wire schemas are lenient to unknown fields (z.object strips them), so a newer
// peer can add fields during a rolling upgrade without breaking an older one.

/** Progress counts of one instance's tasks. */
export const TaskProgress = z.object({
  total: Count,
  succeeded: Count,
  failed: Count,
  running: Count,
});

/** Retry policy for tasks and instances, in the shape users read. */
export const RetryPolicy = z.object({
  maximumAttempts: z.number().int().min(1).max(1000),
  initialIntervalMs: z.number().int().min(0),
  backoffCoefficient: z.number().min(1).max(100),
  maximumIntervalMs: z.number().int().min(0),
});

/** User data carried opaquely (task payloads, params); msgpack-decoded, never code. */
export const UserData = z.unknown();

/** One task handed to a ProcessorTracker. */
export const TaskEnvelope = z.object({
  taskId: OpaqueId,
  taskName: z.string().max(256),
  attempt: z.number().int().min(1),
  payload: UserData,
});

/** The outcome of one attempt of one task. */
export const TaskResult = z.object({
  taskId: OpaqueId,
  attempt: z.number().int().min(1),
  /** A result is final: progress travels in heartbeats, not here. */
  status: z.enum(['SUCCEEDED', 'FAILED']),
  /** Any JSON value (a failure's is its error text). */
  result: JsonResult.optional(),
  /** Set when the processor marked its failure as not worth retrying. */
  nonRetryable: z.boolean().optional(),
});

export const InstanceRef = z.object({
  instanceId: DecimalId,
  epoch: Count,
});

export const Timestamped = z.object({ sentAt: EpochMs });

/** The most runs one dispatch batch (`run_jobs`) or one final-report batch (`report_finals`) carries. */
export const MAX_RUNS_PER_BATCH = 1_000;
