import { z } from 'zod/v4';
import { Count, DecimalId, WorkerId } from '../tokens.js';
import { InstanceRef, TaskEnvelope, UserData } from './common.js';
import { RunJobWorkflow } from './workflow-context.js';

// Messages handled by a worker's ProcessorTracker actors (one per instance and worker).

export const StartTasks = InstanceRef.extend({
  /** Where results and heartbeats go. */
  taskTrackerWorkerId: WorkerId,
  processorName: z.string().min(1).max(256),
  jobId: DecimalId,
  /** Tasks this ProcessorTracker runs at once (the job's concurrencyPerWorker). */
  concurrency: z.number().int().min(1).max(1_024),
  jobParams: UserData,
  instanceParams: UserData,
  /** The instance's run attempt, for `ctx.runAttempt` (absent from older workers: 1). */
  runAttempt: z.number().int().min(1).max(1_000).optional(),
  /**
   * Set when the params are left out: this ProcessorTracker was sent them
   * before (params go once per ProcessorTracker, not with every batch).
   */
  paramsOmitted: z.boolean().optional(),
  /** A workflow node's run: its context, for tasks to read (sent with the params, once). */
  workflow: RunJobWorkflow.optional(),
  /** Empty when the message only carries params too large to share it with a task. */
  tasks: z.array(TaskEnvelope),
});
export const StartTasksReply = z.object({
  accepted: Count,
  /** Tasks at an attempt this worker started before: not run again (a replay, or a retried send). */
  duplicates: Count.optional(),
  /** No ProcessorTracker for the run here (new, or stopped idle): send the params again. */
  needsParams: z.boolean().optional(),
});

export const StopProcessors = z.object({
  instanceId: DecimalId,
  reason: z.string().max(1024),
});
export const StopProcessorsReply = z.object({ stopped: z.boolean() });
