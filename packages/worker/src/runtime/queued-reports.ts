import { routes, type ttMessages } from '@drover/protocol';
import type { Bus, DroverLogger as Logger } from '@drover/transport';
import type { z } from 'zod/v4';

type RunJob = z.output<typeof ttMessages.RunJob>;

// A queued run gives its hand-back within the bound a tracker's final report has.
const HAND_BACK_DEADLINE_MS = 10 * 60_000;

const NOTHING_RAN = { total: 0, succeeded: 0, failed: 0, running: 0 };

/**
 * The report of a run still in the worker's queue (no TaskTracker yet): its
 * hand-back when the worker drains. While it waits it sends none: heartbeats
 * list it (`trackedInstances`), which keeps the server from finding it silent.
 */
export class QueuedReports {
  constructor(
    private readonly bus: Bus,
    private readonly app: string,
    private readonly workerId: string,
    private readonly log: Logger,
  ) {}

  /** Gives the run back to the server for another worker, as a TaskTracker's hand-back does. */
  async handBack(run: RunJob, reason: string): Promise<void> {
    try {
      await this.bus.reliableAsk(
        routes.server.reportInstanceStatus,
        { app: this.app },
        { ...this.report(run, 'WAITING_DISPATCH'), result: reason },
        {
          deadlineMs: HAND_BACK_DEADLINE_MS,
          idempotencyKey: `${run.instanceId}-${run.epoch}-final`,
        },
      );
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, instanceId: run.instanceId },
        'hand-back of a queued run never acknowledged; the server will find it lost',
      );
    }
  }

  private report(run: RunJob, status: 'WAITING_DISPATCH') {
    return {
      instanceId: run.instanceId,
      epoch: run.epoch,
      workerId: this.workerId,
      status,
      progress: NOTHING_RAN,
      reportedAt: Date.now(),
    };
  }
}
