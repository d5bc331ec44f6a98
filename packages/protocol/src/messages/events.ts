import { z } from 'zod/v4';
import { enumValues, InstanceStatus } from '../enums.js';
import { AppName, DecimalId, EpochMs, WorkerId } from '../tokens.js';
import { WorkflowNodeStatus, WorkflowRunStatus } from '../workflow-statuses.js';
import { TaskProgress } from './common.js';
import { JsonResult } from './json-result.js';

// Lifecycle events, published on drover.<app>.events.<type> as JSON (so
// `nats sub 'drover.<app>.events.>'` is readable). Fire and forget: a monitor
// builds its view from them and may miss some while it is disconnected.

/** An instance changed state (dispatched and accepted, handed back, finished). */
export const InstanceEvent = z.object({
  type: z.literal('instance'),
  app: AppName,
  instanceId: DecimalId,
  jobId: DecimalId,
  status: z.enum(enumValues(InstanceStatus)),
  workerId: WorkerId.nullable(),
  epoch: z.number().int().nonnegative(),
  /** The run's JSON result (null until it has one). */
  result: JsonResult.nullable(),
  reason: z.string().max(65_536).nullable(),
  at: EpochMs,
});

/** A worker started (joined), drained (left), or went silent (lost, seen by a server). */
export const WorkerEvent = z.object({
  type: z.literal('worker'),
  app: AppName,
  workerId: WorkerId,
  state: z.enum(['joined', 'left', 'lost']),
  processors: z.array(z.string().max(256)).max(10_000).optional(),
  at: EpochMs,
});

/** A TaskTracker's progress for its run, sent with each report to the server. */
export const ProgressEvent = z.object({
  type: z.literal('progress'),
  app: AppName,
  instanceId: DecimalId,
  workerId: WorkerId,
  epoch: z.number().int().nonnegative(),
  progress: TaskProgress,
  at: EpochMs,
});

/** One stored online log line of a run, as `GET …/instances/{id}/logs` answers it. */
export const LogEventLine = z.object({
  id: DecimalId,
  ts: EpochMs,
  level: z.string().max(16),
  message: z.string().max(65_536),
  workerId: WorkerId,
  taskId: z.string().max(256).nullable(),
});

/**
 * Log lines of a run that a server has just stored (published by that
 * server, so a console follows a run's logs from any server). A batch too
 * large for one message comes as several events, in order.
 */
export const LogEvent = z.object({
  type: z.literal('log'),
  app: AppName,
  instanceId: DecimalId,
  lines: z.array(LogEventLine).min(1).max(10_000),
});

/** A workflow run changed state (WAITING, RUNNING, SUCCEEDED, FAILED, STOPPED). */
export const WorkflowRunEvent = z.object({
  type: z.literal('workflow-run'),
  app: AppName,
  workflowId: DecimalId,
  runId: DecimalId,
  status: WorkflowRunStatus,
  reason: z.string().max(65_536).nullable(),
  at: EpochMs,
});

/** A node of a workflow run changed state (its instance or child run, when it has one). */
export const WorkflowNodeEvent = z.object({
  type: z.literal('workflow-node'),
  app: AppName,
  workflowId: DecimalId,
  runId: DecimalId,
  nodeId: z.string().max(64),
  status: WorkflowNodeStatus,
  instanceId: DecimalId.nullable(),
  childRunId: DecimalId.nullable(),
  at: EpochMs,
});

// Typed by hand: the inferred type names zod 4.1+'s second type argument,
// which zod 3.25's `zod/v4` (a peer range we accept) does not have.
export const DroverEvent: z.ZodDiscriminatedUnion<
  [
    typeof InstanceEvent,
    typeof WorkerEvent,
    typeof ProgressEvent,
    typeof WorkflowRunEvent,
    typeof WorkflowNodeEvent,
    typeof LogEvent,
  ]
> = z.discriminatedUnion('type', [
  InstanceEvent,
  WorkerEvent,
  ProgressEvent,
  WorkflowRunEvent,
  WorkflowNodeEvent,
  LogEvent,
]);
export type DroverEvent = z.output<typeof DroverEvent>;
