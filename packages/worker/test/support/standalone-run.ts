import type { ttMessages } from '@drover/protocol';
import type { z } from 'zod';

export type RunJob = z.input<typeof ttMessages.RunJob>;

/** A `run_job` for a standalone run of `processorName`, no timeout, no task retry (tests playing the server). */
export function standaloneRun(instanceId: string, processorName: string, epoch = 1): RunJob {
  return {
    instanceId,
    epoch,
    jobId: '1',
    executeType: 'STANDALONE',
    processorName,
    jobParams: null,
    instanceParams: null,
    timeoutMs: 0,
    taskRetry: {
      maximumAttempts: 1,
      initialIntervalMs: 0,
      backoffCoefficient: 1,
      maximumIntervalMs: 0,
    },
    workers: [],
    logLevel: 'info',
  };
}
