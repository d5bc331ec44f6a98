import { z } from 'zod/v4';
import { encode } from '../codec.js';
import { ExecuteType, enumValues, InstanceStatus } from '../enums.js';
import { Count, DecimalId, EpochMs, OpaqueId, WorkerId } from '../tokens.js';
import {
  InstanceRef,
  MAX_RUNS_PER_BATCH,
  RetryPolicy,
  TaskProgress,
  TaskResult,
  UserData,
} from './common.js';
import { RunJobWorkflow } from './workflow-context.js';

// Messages handled by a worker's TaskTracker actors (one per instance).

export const RunJob = InstanceRef.extend({
  jobId: DecimalId,
  executeType: z.enum(enumValues(ExecuteType)),
  processorName: z.string().min(1).max(256),
  jobParams: UserData,
  instanceParams: UserData,
  /** 0 means no timeout. */
  timeoutMs: z.number().int().nonnegative(),
  taskRetry: RetryPolicy,
  concurrencyPerWorker: z.number().int().positive().optional(),
  /** Workers whose ProcessorTrackers may run this instance's tasks. */
  workers: z.array(z.string()).max(10_000),
  /** The most workers that may run its tasks at once (0 or absent: no limit), workers joining later included. */
  maxWorkerCount: z.number().int().nonnegative().optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  /** Set for FIXED_RATE / FIXED_DELAY jobs: the TaskTracker fires the processor every interval. */
  frequency: z
    .object({ type: z.enum(['FIXED_RATE', 'FIXED_DELAY']), intervalMs: z.number().int().min(100) })
    .optional(),
  /** Which run of the instance this is: 1, then 2… for instance retries (absent from older servers: 1). */
  runAttempt: z.number().int().min(1).max(1_000).optional(),
  /**
   * A timed run (a CRON slot, a delayed run) sent ahead of its time: start it
   * this many ms after receipt, not at once. Relative, so clocks of server and
   * worker need not agree. Sent only to workers whose heartbeat says `timedStarts`.
   */
  startInMs: z.number().int().min(0).max(3_600_000).optional(),
  /** Set when the run is a workflow node's: the run's context and where it belongs. */
  workflow: RunJobWorkflow.optional(),
});
export const RunJobReply = z.object({ accepted: z.boolean(), reason: z.string().optional() });

/** What the runs of one job share in a compact `run_jobs` batch: sent once, not with each run. */
export const RunJobShared = RunJob.pick({
  jobId: true,
  executeType: true,
  processorName: true,
  jobParams: true,
  timeoutMs: true,
  taskRetry: true,
  concurrencyPerWorker: true,
  workers: true,
  maxWorkerCount: true,
  logLevel: true,
  frequency: true,
});
/** A run of a compact `run_jobs` batch: its own fields, and the index of its job's entry in `jobs`. */
export const CompactRun = RunJob.pick({
  instanceId: true,
  epoch: true,
  instanceParams: true,
  runAttempt: true,
  startInMs: true,
  workflow: true,
}).extend({ job: z.number().int().min(0) });

type Shared = z.output<typeof RunJobShared>;
type Compact = z.output<typeof CompactRun>;

// The field lists of the split live here, side by side (RunJobShared,
// CompactRun, their two builders and wholeRun): a field added to RunJob is
// placed once, and the round-trip test sees one left out.

/** A whole run's part its job's other runs share (`workers` as the sender keys the entry). */
export function sharedPartOf(
  r: z.input<typeof RunJob>,
  workers: string[],
): z.input<typeof RunJobShared> {
  return {
    jobId: r.jobId,
    executeType: r.executeType,
    processorName: r.processorName,
    jobParams: r.jobParams,
    timeoutMs: r.timeoutMs,
    taskRetry: r.taskRetry,
    concurrencyPerWorker: r.concurrencyPerWorker,
    workers,
    maxWorkerCount: r.maxWorkerCount,
    logLevel: r.logLevel,
    frequency: r.frequency,
  };
}

/** A whole run's own part, naming its job's entry in `jobs`. */
export function ownPartOf(r: z.input<typeof RunJob>, job: number): z.input<typeof CompactRun> {
  return {
    instanceId: r.instanceId,
    epoch: r.epoch,
    instanceParams: r.instanceParams,
    runAttempt: r.runAttempt,
    startInMs: r.startInMs,
    workflow: r.workflow,
    job,
  };
}

/** A compact run as the whole RunJob it stands for. */
function wholeRun(c: Compact, j: Shared): z.output<typeof RunJob> {
  return {
    instanceId: c.instanceId,
    epoch: c.epoch,
    jobId: j.jobId,
    executeType: j.executeType,
    processorName: j.processorName,
    // Each run its own copy, as when each came whole: a processor may change it.
    jobParams:
      j.jobParams !== null && typeof j.jobParams === 'object'
        ? structuredClone(j.jobParams)
        : j.jobParams,
    instanceParams: c.instanceParams,
    timeoutMs: j.timeoutMs,
    taskRetry: j.taskRetry,
    concurrencyPerWorker: j.concurrencyPerWorker,
    workers: j.workers,
    maxWorkerCount: j.maxWorkerCount,
    logLevel: j.logLevel,
    frequency: j.frequency,
    runAttempt: c.runAttempt,
    startInMs: c.startInMs,
    workflow: c.workflow,
  };
}

/**
 * Many runs for one worker in one message (a dispatch batch); each is fenced
 * and answered on its own, in order (`runs`, then `compact`). Compact runs
 * name their job's shared fields in `jobs` (sent only to workers whose
 * heartbeat says `compactRuns`); a receiver sees every run whole in `runs`.
 */
/**
 * The most bytes of jobParams a compact batch may expand to, its runs'
 * copies together. A server sizes a batch by its runs' whole form, at most
 * half of NATS max_payload (64 MiB at most), so no batch it sends comes
 * near; a batch naming one large entry from every run would be copied that
 * many times on the worker.
 */
export const MAX_EXPANDED_JOB_PARAMS_BYTES = 32 * 1024 * 1024;

/** What one run's copy of these jobParams weighs (encoded): nothing for a value not copied. */
const copiedBytes = (jobParams: unknown): number =>
  jobParams !== null && typeof jobParams === 'object' ? encode(jobParams).byteLength : 0;

export const RunJobs = z
  .object({
    runs: z.array(RunJob).max(MAX_RUNS_PER_BATCH).optional(),
    jobs: z.array(RunJobShared).max(MAX_RUNS_PER_BATCH).optional(),
    compact: z.array(CompactRun).max(MAX_RUNS_PER_BATCH).optional(),
    /**
     * The sender's database-clock time (epoch ms) when it measured the runs'
     * `startInMs`, and an id of that clock (new when the sender restarts or its
     * clock estimate steps): the worker counts `startInMs` from when the
     * message would have arrived without delays on the way, not from its receipt.
     */
    sentAt: z.number().nonnegative().optional(),
    senderClock: OpaqueId.optional(),
  })
  .superRefine((m, ctx) => {
    const count = (m.runs?.length ?? 0) + (m.compact?.length ?? 0);
    if (count < 1 || count > MAX_RUNS_PER_BATCH)
      ctx.addIssue({
        code: 'custom',
        path: ['runs'],
        message: `a batch carries 1 to ${MAX_RUNS_PER_BATCH} runs (runs and compact together), not ${count}`,
      });
    const jobs = m.jobs?.length ?? 0;
    const weights = new Map<number, number>();
    let expanded = 0;
    m.compact?.forEach((c, i) => {
      if (c.job >= jobs) {
        ctx.addIssue({
          code: 'custom',
          path: ['compact', i, 'job'],
          message: `no jobs[${c.job}] (the batch has ${jobs})`,
        });
        return;
      }
      let weight = weights.get(c.job);
      if (weight === undefined) {
        weight = copiedBytes(m.jobs?.[c.job]?.jobParams);
        weights.set(c.job, weight);
      }
      expanded += weight;
    });
    if (expanded > MAX_EXPANDED_JOB_PARAMS_BYTES)
      ctx.addIssue({
        code: 'custom',
        path: ['compact'],
        message: `the runs' copies of their jobs' jobParams would take ${expanded} bytes, over ${MAX_EXPANDED_JOB_PARAMS_BYTES}`,
      });
  })
  .transform((m) => {
    const runs = m.runs ?? [];
    const { jobs = [], compact = [] } = m;
    for (const c of compact) runs.push(wholeRun(c, jobs[c.job] as Shared));
    return { runs, sentAt: m.sentAt, senderClock: m.senderClock };
  });
export const RunJobsReply = z.object({
  /** One per run, in the request's order. */
  results: z
    .array(
      z.object({
        instanceId: DecimalId,
        accepted: z.boolean(),
        reason: z.string().max(1_000).optional(),
        /** Refused because the worker's run queue is full (try another worker, or wait for room). */
        full: z.boolean().optional(),
        /** Refused by a fence: this worker already took this instance at this epoch or a later one. */
        fenced: z.boolean().optional(),
      }),
    )
    .max(MAX_RUNS_PER_BATCH),
});

export const StopInstance = z.object({
  instanceId: DecimalId,
  /** Only a TaskTracker running this epoch stops (without it, none does). */
  epoch: Count.optional(),
  reason: z.string().max(1024),
});
export const StopInstanceReply = z.object({ stopped: z.boolean() });

export const QueryInstanceStatus = z.object({ instanceId: DecimalId });
export const QueryInstanceStatusReply = InstanceRef.extend({
  status: z.enum(enumValues(InstanceStatus)),
  progress: TaskProgress,
});

export const MapTask = z.object({
  instanceId: DecimalId,
  /** Unique per batch and reused on every retry: stored exactly once. */
  batchId: OpaqueId,
  parentTaskId: OpaqueId,
  // Fencing: stored only from the ProcessorTracker the parent task is out
  // with, at its current attempt, in the run's current epoch. Optional in the
  // schema (older senders), but a TaskTracker refuses a batch without them.
  /** The run's epoch the parent task runs under. */
  epoch: Count.optional(),
  /** The worker whose ProcessorTracker runs the parent task. */
  workerId: WorkerId.optional(),
  /** The parent task's attempt. */
  parentAttempt: z.number().int().min(1).optional(),
  taskName: z.string().min(1).max(256),
  tasks: z.array(z.object({ taskId: OpaqueId, payload: UserData })).min(1),
});
export const MapTaskReply = z.object({ stored: Count, duplicate: z.boolean() });

export const ReportTaskStatus = z.object({
  instanceId: DecimalId,
  workerId: WorkerId,
  results: z.array(TaskResult).min(1),
});
export const ReportTaskStatusReply = z.object({ applied: Count });

/**
 * A draining ProcessorTracker, its results reported, gives back every task it
 * still holds: they are dispatched again elsewhere, and it gets no more.
 */
export const ReleaseTasks = z.object({
  instanceId: DecimalId,
  workerId: WorkerId,
  reason: z.string().max(1024),
});
export const ReleaseTasksReply = z.object({ released: Count });

export const PtHeartbeat = z.object({
  instanceId: DecimalId,
  workerId: WorkerId,
  freeSlots: Count,
  running: Count,
  sentAt: EpochMs,
});
