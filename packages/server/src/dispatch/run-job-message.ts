import { MAX_CONTEXT_BYTES, type ttMessages } from '@drover/protocol';
import type { z } from 'zod';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent } from '../jobs/time-expression.js';
import type { DispatchContext } from './load-for-dispatch.js';

export type RunJob = z.input<typeof ttMessages.RunJob>;

/** The timeout a run's deadline is set from at its claim (a frequent job's run has none). */
export function runTimeoutMs(spec: JobSpec): number {
  return isFrequent(spec.timeExpressionType) ? 0 : spec.instanceTimeoutMs;
}

/**
 * What a TaskTracker needs to run this instance under this epoch (`run_job`,
 * or one run of `run_jobs`); `startInMs` for a run sent ahead of its time.
 */
export function runJobMessage(
  ctx: DispatchContext,
  epoch: number,
  workers: string[],
  startInMs?: number,
): RunJob {
  const { instance, spec } = ctx;
  return {
    instanceId: instance.id,
    epoch,
    jobId: instance.jobId,
    executeType: spec.executeType,
    processorName: spec.processorName,
    jobParams: spec.jobParams ?? null,
    instanceParams: instance.params ?? null,
    timeoutMs: spec.instanceTimeoutMs,
    taskRetry: spec.taskRetry,
    concurrencyPerWorker: spec.concurrencyPerWorker,
    workers: spec.maxWorkerCount > 0 ? workers.slice(0, spec.maxWorkerCount) : workers,
    maxWorkerCount: spec.maxWorkerCount,
    logLevel: spec.logLevel,
    runAttempt: instance.runAttempt,
    frequency: isFrequent(spec.timeExpressionType)
      ? {
          type: spec.timeExpressionType as 'FIXED_RATE' | 'FIXED_DELAY',
          intervalMs: Number(spec.timeExpression),
        }
      : undefined,
    startInMs,
    workflow: ctx.workflow && { ...ctx.workflow, contextLimitBytes: MAX_CONTEXT_BYTES },
  };
}
