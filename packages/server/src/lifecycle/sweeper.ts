import { monotonicMs } from '@drover/protocol';
import { LogLimiter } from '@drover/transport';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { PeriodicLoop } from '../periodic-loop.js';
import { pruneFinished } from '../store/instance-retention.js';
import { confirmAccepted, failWaiting, requeue } from '../store/instance-transitions.js';
import type { InstanceEvents } from './instance-events.js';
import { settle } from './settle.js';

export interface SweeperOptions {
  intervalMs: number;
  /** A dispatch not confirmed within this is taken back (lost accept). */
  acceptTimeoutMs: number;
  /** A RUNNING instance with no report for this long has lost its TaskTracker. */
  silentMs: number;
  /** A run still waiting for a worker after this long fails. */
  waitingGiveUpMs: number;
  /** Finished instances (and their logs) older than this are deleted. */
  retentionMs: number;
}

interface Stuck {
  id: string;
  epoch: number;
  worker_id: string | null;
  app: string;
}

const BATCH = 200;
// The least time a sweep may spend on retention pruning.
const PRUNE_MIN_BUDGET_MS = 250;

/**
 * Drives every unfinished instance to a final state within its bound: an
 * in-process loop (never a queued job), idempotent, safe to run on every
 * server at once (each change is fenced by status and epoch).
 */
export class Sweeper {
  private readonly loop: PeriodicLoop;
  /**
   * The lost-accept check asks workers over NATS, and a hung one holds it for
   * the ask's timeout (3 s): on its own loop it never delays the silence,
   * timeout and give-up judgements, which read only Postgres.
   */
  private readonly acceptLoop: PeriodicLoop;
  private readonly log: Logger;
  private readonly rowFailures: LogLimiter;
  /**
   * Until then, silence proves nothing: reports sent while this server was
   * down, or could not reach Postgres, were lost, not missing. Starting, and
   * every failed sweep, push it to silentMs ahead.
   */
  private blindUntil: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly dispatcher: Dispatcher,
    private readonly events: InstanceEvents,
    log: Logger,
    private readonly options: SweeperOptions,
  ) {
    this.log = log;
    this.rowFailures = new LogLimiter(log);
    this.blindUntil = monotonicMs() + options.silentMs;
    this.loop = new PeriodicLoop('sweeper', options.intervalMs, () => this.sweep(), log);
    this.acceptLoop = new PeriodicLoop(
      'lost-accept sweeper',
      options.intervalMs,
      () => this.pass([this.lostAccepts]),
      log,
    );
  }

  start(): void {
    this.loop.start();
    this.acceptLoop.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.loop.stop(), this.acceptLoop.stop()]);
  }

  /** One pass of the steps that read only Postgres. */
  sweep(): Promise<void> {
    return this.pass([this.silentTrackers, this.timeouts, this.giveUps, this.prune]);
  }

  /** Runs the steps in turn; a failing step does not keep the others from running. */
  private async pass(steps: (() => Promise<void>)[]): Promise<void> {
    const failed: string[] = [];
    for (const step of steps) {
      try {
        await step.call(this);
      } catch (err) {
        failed.push(`${step.name}: ${(err as Error).message}`);
      }
    }
    if (failed.length) {
      this.blindUntil = monotonicMs() + this.options.silentMs;
      // The loop logs it, at most every 10 s.
      throw new Error(failed.join('; '));
    }
  }

  private async stuck(where: string, params: unknown[] = []): Promise<Stuck[]> {
    const { rows } = await this.pool.query<Stuck>(
      `SELECT i.id, i.epoch, i.worker_id, a.name AS app FROM instances i JOIN apps a ON a.id = i.app_id
       WHERE ${where} LIMIT ${BATCH}`,
      params,
    );
    return rows;
  }

  /**
   * Acts on each row on its own: a row that cannot be settled is logged and
   * skipped, so one app's bad row never keeps the others' runs from settling
   * (nor makes the sweep count as failed, which would blind it to silence).
   */
  private async eachRow<R extends { id: string; app: string }>(
    rows: R[],
    act: (r: R) => Promise<void>,
  ): Promise<void> {
    for (const r of rows) {
      try {
        await act(r);
      } catch (err) {
        this.rowFailures.warn(
          { instanceId: r.id, app: r.app, err: (err as Error).message },
          'sweeper could not act on an instance; going on with the others',
        );
      }
    }
  }

  private async lostAccepts(): Promise<void> {
    const rows = await this.stuck(
      `i.status = 'WAITING_WORKER_RECEIVE' AND i.dispatched_at < now() - make_interval(secs => $1 / 1000.0)`,
      [this.options.acceptTimeoutMs],
    );
    // The accept may be what was lost (Postgres away as it was recorded), not
    // the run: a TaskTracker running this epoch keeps it, or it would run twice.
    const running = await Promise.all(
      rows.map((r) =>
        r.worker_id ? this.dispatcher.trackerRunning(r.app, r.worker_id, r.id, r.epoch) : null,
      ),
    );
    const progressOf = new Map(rows.map((r, i) => [r.id, running[i]]));
    await this.eachRow(rows, async (r) => {
      const progress = progressOf.get(r.id);
      const confirmed = progress && (await confirmAccepted(this.pool, r.id, r.epoch, progress));
      if (confirmed) {
        this.events.changed(confirmed);
        return;
      }
      const reason = `worker ${r.worker_id} never confirmed the dispatch; dispatching again`;
      const requeued = await requeue(this.pool, r.id, r.epoch, 0, reason);
      if (requeued) {
        this.events.changed(requeued);
        // Not waited for, as in end(): a hung worker would hold the pass.
        if (r.worker_id)
          void this.dispatcher.stopTracker(r.app, r.worker_id, r.id, r.epoch, reason);
      }
    });
  }

  private async silentTrackers(): Promise<void> {
    if (monotonicMs() < this.blindUntil) return;
    const rows = await this.stuck(
      `i.status = 'RUNNING' AND i.last_report_at < now() - make_interval(secs => $1 / 1000.0)`,
      [this.options.silentMs],
    );
    // A run its live worker's heartbeat still lists (e.g. queued there behind
    // its concurrency, or its reports held up by load) is not lost.
    const held = rows.filter(
      (r) => r.worker_id && this.dispatcher.heldBy(r.app, r.worker_id, r.id),
    );
    if (held.length)
      await this.pool.query(
        `UPDATE instances SET last_report_at = now() WHERE id = ANY($1::bigint[]) AND status = 'RUNNING'`,
        [held.map((r) => r.id)],
      );
    const lost = rows.filter((r) => !held.includes(r));
    await this.eachRow(lost, (r) =>
      this.end(
        r,
        `TaskTracker on worker ${r.worker_id} silent for over ${this.options.silentMs} ms`,
      ),
    );
  }

  private async timeouts(): Promise<void> {
    // Its accept not written yet (held a second) counts: the deadline runs from the dispatch.
    const rows = await this.stuck(
      `i.status IN ('WAITING_WORKER_RECEIVE', 'RUNNING') AND i.deadline_at < now()`,
    );
    await this.eachRow(rows, (r) => this.end(r, 'instance timed out'));
  }

  private async end(r: Stuck, reason: string): Promise<void> {
    // The stop goes out first (before any retry's run_job), but settling does not
    // wait for its reply: a hung or stopped worker would hold it for the ask timeout.
    if (r.worker_id) void this.dispatcher.stopTracker(r.app, r.worker_id, r.id, r.epoch, reason);
    const settled = await settle(this.pool, r.id, r.epoch, { status: 'FAILED', reason });
    if (settled.kind === 'final' || settled.kind === 'retry') {
      this.log.info(
        { instanceId: r.id, outcome: settled.kind, reason },
        'sweeper settled instance',
      );
      this.events.changed(settled.instance);
    }
  }

  /**
   * Runs not started within the job's scheduleToStartTimeoutMs (or the
   * server's waitingGiveUpMs) of becoming due; a wait in the queue of the
   * job's own concurrency limit does not count.
   */
  private async giveUps(): Promise<void> {
    const { rows } = await this.pool.query<{
      id: string;
      app: string;
      limit_ms: number;
      ran_before: boolean;
    }>(
      `SELECT i.id, a.name AS app, l.limit_ms, i.started_at IS NOT NULL AS ran_before
       FROM instances i JOIN jobs j ON j.id = i.job_id
         JOIN apps a ON a.id = i.app_id,
         LATERAL (SELECT coalesce((j.spec->>'scheduleToStartTimeoutMs')::float8, $1) AS limit_ms) l
       WHERE i.status IN ('WAITING_DISPATCH', 'WAITING_WORKER') AND NOT i.queued
         AND i.due_at < now() - make_interval(secs => l.limit_ms / 1000.0)
       LIMIT ${BATCH}`,
      [this.options.waitingGiveUpMs],
    );
    await this.eachRow(rows, async (r) => {
      // A run a worker took once (then lost, or handed back) keeps its started_at.
      const done = await failWaiting(
        this.pool,
        r.id,
        r.ran_before
          ? `not started again within ${r.limit_ms} ms of being due again (a worker took it before; none took it since)`
          : `not started within ${r.limit_ms} ms of being due (no worker took it)`,
      );
      if (done) this.events.changed(done);
    });
  }

  /** Finished instances past retention, for up to half a sweep period (or 250 ms) per sweep. */
  private async prune(): Promise<void> {
    const budgetMs = Math.max(PRUNE_MIN_BUDGET_MS, this.options.intervalMs / 2);
    const pruned = await pruneFinished(this.pool, this.options.retentionMs, budgetMs);
    if (pruned) this.log.info({ pruned }, 'pruned finished instances past retention');
  }
}
