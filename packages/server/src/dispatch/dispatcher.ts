import { DroverError, PayloadTooLargeError, routes } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import { inTransaction, retryWhileUnavailable } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent } from '../jobs/time-expression.js';
import { dispatchBackoffMs } from '../lifecycle/retry-delay.js';
import type { DbClock } from '../scheduling/db-clock.js';
import type { Instance } from '../store/instance-row.js';
import {
  claimForDispatch,
  claimMany,
  failUndeliverable,
  failWaiting,
  markAccepted,
  queueForSlot,
  waitForWorker,
} from '../store/instance-transitions.js';
import { countActive, getInstance, nextInLine } from '../store/instances.js';
import { type DispatchContext, loadForDispatch } from './load-for-dispatch.js';
import type { RunFacts } from './run-facts.js';
import type { WorkerRegistry } from './worker-registry.js';
import { type Selection, selectWorkers } from './worker-selection.js';

const MAX_CANDIDATES_PER_ROUND = 3;
// A queued run starts when a run of its job ends; this re-check only covers a
// server that died between freeing the slot and starting the next run.
const QUEUED_RECHECK_MS = 5_000;

/**
 * Hands waiting instances to TaskTrackers: picks workers by each job's
 * strategy, binds the instance to a worker under a new epoch, and asks
 * `run_job`. Instances due together are loaded and claimed in one query each,
 * so a burst of CRON slots costs a few round trips, not a few per run.
 * No-responders moves on to the next worker at once.
 */
export class Dispatcher {
  constructor(
    private readonly pool: pg.Pool,
    private readonly bus: Bus,
    private readonly registry: WorkerRegistry,
    private readonly log: Logger,
    private readonly facts: RunFacts,
    private readonly unknownProcessorGraceMs: number,
    /** Due and creation times are database times: compared with the database clock. */
    private readonly clock: DbClock,
    /** Told when a TaskTracker accepted a run (for lifecycle events). */
    private readonly onStarted: (instance: Instance) => void = () => {},
    /** Told when a run failed before reaching a worker (lifecycle events, queued runs). */
    private readonly onFailed: (instance: Instance) => void = () => {},
    /** Aborted when the server stops: ends retries of writes while Postgres is away. */
    private readonly stopping?: AbortSignal,
  ) {}

  /** Never throws: a failed dispatch leaves the instance for the next scan. */
  dispatch(instanceIds: string[]): Promise<void> {
    return this.guarded(instanceIds.length, async () =>
      this.dispatchMany(await loadForDispatch(this.pool, instanceIds)),
    );
  }

  /**
   * The worker to bind a run to in the same INSERT that creates it (insert
   * and claim in one round trip), or undefined to insert it waiting: a job
   * with a concurrency limit, or no live worker with a free slot.
   */
  pickAtInsert(app: string, spec: JobSpec): string | undefined {
    if (spec.maxConcurrentInstances > 0) return undefined;
    const first = selectWorkers(this.registry.alive(app), spec).ordered[0];
    return first && first.metrics.freeSlots > 0 ? first.workerId : undefined;
  }

  /** Runs inserted already claimed (worker and epoch set by the INSERT): offered without another claim. */
  dispatchClaimed(items: { ctx: DispatchContext; epoch: number }[]): Promise<void> {
    return this.guarded(items.length, async () => {
      await Promise.all(
        items.map(({ ctx, epoch }) => {
          this.facts.remember(ctx.instance.id, {
            app: ctx.app,
            concurrencyLimit: ctx.spec.maxConcurrentInstances,
          });
          // The claimed worker is asked first, whatever the registry says now.
          const selection = selectWorkers(this.registry.alive(ctx.app), ctx.spec);
          const claimed = selection.ordered.filter((w) => w.workerId === ctx.instance.workerId);
          const others = selection.ordered.filter((w) => w.workerId !== ctx.instance.workerId);
          return this.offer(ctx, { ...selection, ordered: [...claimed, ...others] }, epoch);
        }),
      );
    });
  }

  /** Like `dispatch`, for runs the caller has just written and holds (no reload). */
  dispatchLoaded(contexts: DispatchContext[]): Promise<void> {
    return this.guarded(contexts.length, () => this.dispatchMany(contexts));
  }

  private async guarded(count: number, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.log.warn({ err, instanceIds: count }, 'dispatch failed; the next scan retries');
    }
  }

  private async dispatchMany(contexts: DispatchContext[]): Promise<void> {
    const now = this.clock.now();
    const unlimited: { ctx: DispatchContext; selection: Selection; workerId: string }[] = [];
    const single: Promise<void>[] = [];
    for (const ctx of contexts) {
      if (ctx.instance.nextDispatchAt > now + 1_000) continue;
      this.facts.remember(ctx.instance.id, {
        app: ctx.app,
        concurrencyLimit: ctx.spec.maxConcurrentInstances,
      });
      const selection = selectWorkers(this.registry.alive(ctx.app), ctx.spec);
      const first = selection.ordered[0];
      if (
        !first &&
        selection.unknownProcessor &&
        now - ctx.instance.createdAt >= this.unknownProcessorGraceMs
      ) {
        // Live workers, none with this processor, for longer than a rollout takes: a clear failure beats waiting.
        single.push(
          failWaiting(this.pool, ctx.instance.id, selection.reason ?? 'unknown processor').then(
            (failed) => {
              if (failed) this.onFailed(failed);
            },
          ),
        );
      } else if (!first) {
        const backoff = dispatchBackoffMs(ctx.dispatchFailures);
        single.push(
          waitForWorker(
            this.pool,
            ctx.instance.id,
            null,
            backoff,
            selection.reason ?? 'no worker',
          ).then(() => undefined),
        );
      } else if (ctx.spec.maxConcurrentInstances > 0) {
        single.push(this.dispatchLimited(ctx, selection, first.workerId));
      } else {
        unlimited.push({ ctx, selection, workerId: first.workerId });
      }
    }
    const epochs = unlimited.length
      ? await claimMany(
          this.pool,
          unlimited.map((u) => ({ id: u.ctx.instance.id, workerId: u.workerId })),
        )
      : new Map<string, number>();
    const offers = unlimited.flatMap((u) => {
      const epoch = epochs.get(u.ctx.instance.id);
      return epoch === undefined ? [] : [this.offer(u.ctx, u.selection, epoch)];
    });
    await Promise.all([...single, ...offers]);
  }

  /**
   * Jobs with max concurrent instances: count and claim under a per-job lock.
   * Free slots go to the job's due runs in (due_at, id) order: this run takes
   * one only in its turn, and the older runs ahead of it are started too.
   */
  private async dispatchLimited(
    ctx: DispatchContext,
    selection: Selection,
    workerId: string,
  ): Promise<void> {
    const { instance, spec } = ctx;
    const { claimed, ahead, failed } = await inTransaction<{
      claimed: Instance | null;
      ahead: string[];
      failed?: Instance | null;
    }>(this.pool, async (tx) => {
      // Serialises the count-then-claim of one job across servers.
      await tx.query('SELECT pg_advisory_xact_lock(1, $1::int)', [
        Number(BigInt(instance.jobId) % 2_147_483_647n),
      ]);
      const free = spec.maxConcurrentInstances - (await countActive(tx, instance.jobId));
      const turn = free > 0 ? await nextInLine(tx, instance.jobId, instance.id, free) : [];
      const ahead = turn.filter((id) => id !== instance.id);
      if (turn.includes(instance.id)) {
        return { claimed: await claimForDispatch(tx, instance.id, workerId, null), ahead };
      }
      const reason = `job already runs ${spec.maxConcurrentInstances} instance(s) (maxConcurrentInstances)`;
      if (spec.concurrencyOverflow === 'FAIL')
        return { claimed: null, ahead, failed: await failWaiting(tx, instance.id, reason) };
      await queueForSlot(tx, instance.id, QUEUED_RECHECK_MS, reason);
      return { claimed: null, ahead };
    });
    if (failed) this.onFailed(failed);
    await Promise.all([
      claimed ? this.offer(ctx, selection, claimed.epoch) : undefined,
      ahead.length ? this.dispatch(ahead) : undefined,
    ]);
  }

  /** Starts the longest-waiting due run of a limited job, e.g. when one of its runs ended. */
  async startQueued(jobId: string): Promise<void> {
    try {
      const next = await nextInLine(this.pool, jobId, null, 1);
      if (next.length) await this.dispatch(next);
    } catch (err) {
      this.log.warn({ err, jobId }, 'could not start a queued run; its re-check will');
    }
  }

  /** Asks the claimed worker, then the next candidates under new epochs, until one accepts. */
  private async offer(
    ctx: DispatchContext,
    selection: Selection,
    claimedEpoch: number,
  ): Promise<void> {
    const { instance, spec, app } = ctx;
    let epoch = claimedEpoch;
    const workers = selection.ordered.map((w) => w.workerId);
    const candidates = workers.slice(0, MAX_CANDIDATES_PER_ROUND);
    const failures: string[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const worker = candidates[i] as string;
      if (i > 0) {
        const next = await claimForDispatch(this.pool, instance.id, worker, epoch);
        if (!next) return; // stopped or taken over meanwhile
        epoch = next.epoch;
      }
      const answer = await this.askRunJob(app, worker, instance, epoch, spec, workers);
      if (typeof answer === 'object') {
        // No worker can ever take it: fail now, not after waitingGiveUpMs.
        const failed = await failUndeliverable(this.pool, instance.id, epoch, answer.undeliverable);
        if (failed) this.onFailed(failed);
        return;
      }
      if (answer === 'accepted') {
        const timeoutMs = isFrequent(spec.timeExpressionType) ? 0 : spec.instanceTimeoutMs;
        // The worker runs it now: losing this write to a database fault would get it run twice.
        const started = await retryWhileUnavailable(
          this.pool,
          () => markAccepted(this.pool, instance.id, epoch, timeoutMs),
          this.log,
          `recording that ${worker} accepted instance ${instance.id}`,
          this.stopping,
        );
        if (started) this.onStarted(started);
        else {
          // A fast run may have reported its result before this line: that is fine.
          // Anything else (stopped, taken over) means this TaskTracker must stop.
          const now = await getInstance(this.pool, instance.id);
          const finishedHere =
            now?.epoch === epoch && (now.status === 'SUCCEEDED' || now.status === 'FAILED');
          if (!finishedHere)
            await this.stopTracker(
              app,
              worker,
              instance.id,
              epoch,
              'instance ended before it started',
            );
        }
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

  private async askRunJob(
    app: string,
    workerId: string,
    instance: Instance,
    epoch: number,
    spec: JobSpec,
    workers: string[],
  ): Promise<'accepted' | string | { undeliverable: string }> {
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
        },
      );
      return reply.accepted ? 'accepted' : `refused (${reply.reason ?? 'no reason'})`;
    } catch (err) {
      if (err instanceof PayloadTooLargeError)
        return {
          undeliverable: `run_job is ${err.size} bytes, over NATS max_payload (${err.maxPayload} usable): its jobParams and params are too large`,
        };
      return err instanceof DroverError ? err.code : (err as Error).message;
    }
  }

  /**
   * The progress of the TaskTracker running this instance under this epoch,
   * or null when that worker has none (or does not answer): whether a dispatch
   * nobody recorded as accepted was in fact accepted.
   */
  async trackerRunning(
    app: string,
    workerId: string,
    instanceId: string,
    epoch: number,
  ): Promise<Instance['progress'] | null> {
    try {
      const reply = await this.bus.ask(
        routes.tt.queryInstanceStatus,
        { app, workerId },
        { instanceId },
      );
      return reply.epoch === epoch ? reply.progress : null;
    } catch (err) {
      this.log.debug(
        { err, instanceId, workerId },
        'TaskTracker did not confirm it runs the instance',
      );
      return null;
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
