import { z } from 'zod/v4';
import { enumValues, InstanceStatus } from '../enums.js';
import { AppName, Count, DecimalId, EpochMs, OpaqueId, WorkerId } from '../tokens.js';

/** A worker process start's random id (see WorkerHeartbeat.incarnation). */
export const Incarnation = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 characters of letters, digits, "_" or "-"');

import { MAX_RUNS_PER_BATCH, TaskProgress } from './common.js';
import { JsonResult } from './json-result.js';
import { WorkflowContext } from './workflow-context.js';

// Messages handled by servers.

export const WorkerMetrics = z.object({
  /** 1-minute load average divided by cores. */
  cpuLoad: z.number().nonnegative(),
  cpuCores: z.number().int().positive(),
  memoryUsedBytes: Count,
  memoryTotalBytes: Count,
  freeSlots: Count,
  totalSlots: Count,
});

export const WorkerHeartbeat = z.object({
  app: AppName,
  workerId: WorkerId,
  /**
   * Random per worker process start: while one incarnation holds a worker id,
   * heartbeats of another are ignored (a second process, or a replay).
   */
  incarnation: Incarnation,
  /** 1, 2, 3… per incarnation: a heartbeat not newer than the last one accepted is ignored. */
  seq: z.number().int().min(1),
  version: z.string().max(64),
  tags: z.array(z.string().max(64)).max(64),
  processors: z.array(z.string().max(256)).max(10_000),
  startedAt: EpochMs,
  sentAt: EpochMs,
  metrics: WorkerMetrics,
  /** Instances this worker's TaskTrackers own, so the server can spot orphans. */
  trackedInstances: z.array(DecimalId).max(100_000),
  /** Honours `startInMs` of run_job(s): timed runs may be sent to it ahead of their time. */
  timedStarts: z.boolean().optional(),
  /** Takes `run_jobs` in the compact form (`jobs` and `compact`): each job's fields once a batch. */
  compactRuns: z.boolean().optional(),
});

export const ReportInstanceStatus = z.object({
  instanceId: DecimalId,
  epoch: Count,
  workerId: WorkerId,
  status: z.enum(enumValues(InstanceStatus)),
  progress: TaskProgress,
  /** Any JSON value; a failure's (or a hand-back's) is its reason text. */
  result: JsonResult.optional(),
  reportedAt: EpochMs,
  /** With FAILED: the processor threw NonRetryableError, so no instance retry either. */
  nonRetryable: z.boolean().optional(),
  /** A TaskTracker that takes workers joining during its run: the reply lists them. */
  wantsWorkers: z.boolean().optional(),
  /** With a final status of a workflow node's run: what it added to the workflow context. */
  contextUpdate: WorkflowContext.optional(),
});

export const ReportInstanceStatusReply = z.object({
  accepted: z.boolean(),
  /** Set when the server wants this TaskTracker to stop (stale epoch, final instance). */
  stop: z.boolean(),
  reason: z.string().optional(),
  /** For `wantsWorkers`: the job's eligible live workers now, best first (not capped). */
  workers: z.array(WorkerId).max(10_000).optional(),
});

/** One run's final report inside a `report_finals` batch. */
export const FinalReport = z.object({
  instanceId: DecimalId,
  epoch: Count,
  status: z.enum(['SUCCEEDED', 'FAILED', 'STOPPED']),
  progress: TaskProgress,
  /** Any JSON value; a failure's (or a hand-back's) is its reason text. */
  result: JsonResult.optional(),
  /** When the processor started on the worker: the run's started_at, as no RUNNING report may have been written. */
  startedAt: EpochMs.optional(),
  reportedAt: EpochMs,
  /** With FAILED: the processor threw NonRetryableError, so no instance retry either. */
  nonRetryable: z.boolean().optional(),
  /** A workflow node's run: what it added to the workflow context (ctx.workflow.set). */
  contextUpdate: WorkflowContext.optional(),
});

/**
 * The final reports of many runs from one worker. Sent with one idempotency
 * key per batch (retries carry the same one); each report is fenced by its
 * epoch and settled at most once, so a batch applied twice changes nothing.
 */
export const ReportFinals = z.object({
  workerId: WorkerId,
  reports: z.array(FinalReport).min(1).max(MAX_RUNS_PER_BATCH),
});

export const ReportFinalsReply = z.object({
  /** One per report, in the request's order; `stop` as for report_instance_status. */
  results: z
    .array(
      z.object({
        instanceId: DecimalId,
        accepted: z.boolean(),
        stop: z.boolean(),
        reason: z.string().max(1_000).optional(),
      }),
    )
    .max(MAX_RUNS_PER_BATCH),
});

export const LogLine = z.object({
  ts: EpochMs,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string().max(65_536),
  taskId: OpaqueId.optional(),
});

export const ReportLog = z.object({
  instanceId: DecimalId,
  workerId: WorkerId,
  /** Unique per batch: a retried batch is stored once. */
  batchId: OpaqueId,
  lines: z.array(LogLine).min(1).max(10_000),
});

export const ReportLogReply = z.object({ stored: Count });

/**
 * A worker starting asks whether it may take this worker id in this app, so a
 * refusal (no such app, or the id held by another live process) ends it at once.
 */
export const CheckWorker = z.object({
  app: AppName,
  workerId: WorkerId,
  incarnation: Incarnation,
});
export const CheckWorkerReply = z.object({
  accepted: z.boolean(),
  /** Why not, when refused. */
  reason: z.string().max(1_000).optional(),
});

export const QueryCluster = z.object({});

export const WorkerSummary = z.object({
  workerId: WorkerId,
  version: z.string(),
  tags: z.array(z.string()),
  lastSeenAt: EpochMs,
  metrics: WorkerMetrics,
});

export const QueryClusterReply = z.object({ workers: z.array(WorkerSummary) });
