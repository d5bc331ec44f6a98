import { DroverError, routes } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent } from '../jobs/time-expression.js';
import { dispatchBackoffMs } from '../lifecycle/retry-delay.js';
import { type Instance, prefixed, type RawInstance, toInstance } from '../store/instance-row.js';
import {
  claimForDispatch,
  failWaiting,
  markAccepted,
  requeue,
  waitForWorker,
} from '../store/instance-transitions.js';
import { countActive } from '../store/instances.js';
import type { WorkerRegistry } from './worker-registry.js';
import { selectWorkers } from './worker-selection.js';

const MAX_CANDIDATES_PER_ROUND = 3;
const QUEUED_RECHECK_MS = 1_000;

interface Context {
  instance: Instance;
  spec: JobSpec;
  app: string;
  dispatchFailures: number;
}

/**
 * Hands a waiting instance to a TaskTracker: picks workers by the job's
 * strategy, binds the instance to each under a new epoch, and asks `run_job`.
 * No-responders moves on to the next worker at once.
 */
export class Dispatcher {
  constructor(
    private readonly pool: pg.Pool,
    private readonly bus: Bus,
    private readonly registry: WorkerRegistry,
    private readonly log: Logger,
  ) {}

  /** Never throws: a failed dispatch leaves the instance for the sweeper. */
  async dispatch(instanceId: string): Promise<void> {
    try {
      await this.tryDispatch(instanceId);
    } catch (err) {
      this.log.warn({ err, instanceId }, 'dispatch failed; the sweeper will retry');
    }
  }

  private async load(instanceId: string): Promise<Context | null> {
    const { rows } = await this.pool.query<
      RawInstance & { spec: JobSpec; app: string; dispatch_failures: number }
    >(
      `SELECT ${prefixed('i')}, i.dispatch_failures, j.spec, a.name AS app FROM instances i
       JOIN jobs j ON j.id = i.job_id JOIN apps a ON a.id = i.app_id
       WHERE i.id = $1 AND i.status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
      [instanceId],
    );
    const row = rows[0];
    return row
      ? {
          instance: toInstance(row),
          spec: row.spec,
          app: row.app,
          dispatchFailures: row.dispatch_failures,
        }
      : null;
  }

  private async tryDispatch(instanceId: string): Promise<void> {
    const ctx = await this.load(instanceId);
    if (!ctx || ctx.instance.nextDispatchAt > Date.now() + 1_000) return;
    const { instance, spec, app } = ctx;
    const selection = selectWorkers(this.registry.alive(app), spec);
    const first = selection.ordered[0];
    if (!first) {
      await waitForWorker(
        this.pool,
        instance.id,
        null,
        dispatchBackoffMs(ctx.dispatchFailures),
        selection.reason ?? 'no worker',
      );
      return;
    }
    const claimed = await this.claimWithinLimit(ctx, first.workerId);
    if (!claimed) return;

    let epoch = claimed.epoch;
    const workers = selection.ordered.map((w) => w.workerId);
    const candidates = selection.ordered.slice(0, MAX_CANDIDATES_PER_ROUND);
    const failures: string[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const worker = candidates[i]?.workerId as string;
      if (i > 0) {
        const next = await claimForDispatch(this.pool, instance.id, worker, epoch);
        if (!next) return; // stopped or taken over meanwhile
        epoch = next.epoch;
      }
      const answer = await this.askRunJob(app, worker, instance, epoch, spec, workers);
      if (answer === 'accepted') {
        const running = await markAccepted(
          this.pool,
          instance.id,
          epoch,
          isFrequent(spec.timeExpressionType) ? 0 : spec.instanceTimeoutMs,
        );
        if (!running)
          await this.stopTracker(
            app,
            worker,
            instance.id,
            epoch,
            'instance ended before it started',
          );
        return;
      }
      failures.push(`${worker}: ${answer}`);
    }
    await waitForWorker(
      this.pool,
      instance.id,
      epoch,
      dispatchBackoffMs(ctx.dispatchFailures),
      `no worker accepted the run (${failures.join('; ')})`,
    );
  }

  /** Claims the instance, unless the job's max concurrent instances are already running. */
  private claimWithinLimit(ctx: Context, workerId: string): Promise<Instance | null> {
    const { instance, spec } = ctx;
    if (spec.maxConcurrentInstances === 0)
      return claimForDispatch(this.pool, instance.id, workerId, null);
    return inTransaction(this.pool, async (tx) => {
      // Serialises the count-then-claim of one job across servers.
      await tx.query('SELECT pg_advisory_xact_lock(1, $1::int)', [
        Number(BigInt(instance.jobId) % 2_147_483_647n),
      ]);
      if ((await countActive(tx, instance.jobId)) < spec.maxConcurrentInstances) {
        return claimForDispatch(tx, instance.id, workerId, null);
      }
      const reason = `job already runs ${spec.maxConcurrentInstances} instance(s) (maxConcurrentInstances)`;
      if (spec.concurrencyOverflow === 'FAIL') await failWaiting(tx, instance.id, reason);
      else await requeue(tx, instance.id, null, QUEUED_RECHECK_MS, reason);
      return null;
    });
  }

  private async askRunJob(
    app: string,
    workerId: string,
    instance: Instance,
    epoch: number,
    spec: JobSpec,
    workers: string[],
  ): Promise<'accepted' | string> {
    try {
      const reply = await this.bus.ask(
        routes.tt.runJob,
        { app, workerId },
        {
          instanceId: instance.id,
          epoch,
          jobId: instance.jobId,
          executeType: spec.executeType,
          processorName: spec.processorName,
          jobParams: spec.jobParams ?? null,
          instanceParams: instance.params ?? null,
          timeoutMs: spec.instanceTimeoutMs > 0 ? spec.instanceTimeoutMs : 2_147_483_647,
          taskRetry: spec.taskRetry,
          concurrencyPerWorker: spec.concurrencyPerWorker,
          workers: spec.maxWorkerCount > 0 ? workers.slice(0, spec.maxWorkerCount) : workers,
          logLevel: spec.logLevel,
          frequency: isFrequent(spec.timeExpressionType)
            ? {
                type: spec.timeExpressionType as 'FIXED_RATE' | 'FIXED_DELAY',
                intervalMs: Number(spec.timeExpression),
              }
            : undefined,
        },
      );
      return reply.accepted ? 'accepted' : `refused (${reply.reason ?? 'no reason'})`;
    } catch (err) {
      return err instanceof DroverError ? err.code : (err as Error).message;
    }
  }

  /** Best effort: tells a TaskTracker to stop; it also learns from rejected reports. */
  async stopTracker(
    app: string,
    workerId: string,
    instanceId: string,
    epoch: number | undefined,
    reason: string,
  ): Promise<void> {
    try {
      await this.bus.ask(routes.tt.stopInstance, { app, workerId }, { instanceId, epoch, reason });
    } catch (err) {
      this.log.debug({ err, instanceId, workerId }, 'could not tell TaskTracker to stop');
    }
  }
}
