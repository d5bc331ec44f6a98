import { monotonicMs } from '@drover/protocol';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { DispatchTimers } from '../dispatch/dispatch-timers.js';
import { PeriodicLoop } from '../periodic-loop.js';
import { claimDueJobs } from './claim-due-jobs.js';
import { claimDueWorkflows, nextWorkflowSlotIn } from './claim-due-workflows.js';
import type { DbClock } from './db-clock.js';

export interface SchedulerOptions {
  /** How often this server scans (jobs to claim, runs to arm). */
  scanIntervalMs: number;
  /** How far ahead slots are claimed and timers armed. */
  lookaheadMs: number;
}

/**
 * The scheduling loop of one server: claims due jobs, then arms a timer for
 * every waiting instance due inside the look-ahead window. Survives its own
 * errors (e.g. Postgres away): it logs and tries again next round.
 */
export class Scheduler {
  private readonly loop: PeriodicLoop;
  /** Wakes a round for the next CRON workflow slot (runs start when due, not ahead). */
  private workflowWake: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly timers: DispatchTimers,
    log: Logger,
    private readonly options: SchedulerOptions,
    /** Kept in step with the database clock every round. */
    private readonly clock: DbClock,
    /** Told of each round's new runs' jobs (metrics). */
    private readonly onCreated: (jobIds: string[]) => void = () => {},
  ) {
    this.loop = new PeriodicLoop('scheduling', options.scanIntervalMs, () => this.runRound(), log);
  }

  start(): void {
    this.loop.start();
  }

  /** Runs a round soon (e.g. a job was created or enabled), without waiting for the next tick. */
  poke(): void {
    this.loop.trigger();
  }

  stop(): Promise<void> {
    clearTimeout(this.workflowWake);
    return this.loop.stop();
  }

  private async runRound(): Promise<void> {
    await this.clock.sync(this.pool);
    const client = await this.pool.connect();
    try {
      while ((await claimDueJobs(client, this.options.lookaheadMs, 200, this.onCreated)) >= 200) {
        // A full batch: there may be more due jobs right away.
      }
      while ((await claimDueWorkflows(client, this.pool)) >= 100) {
        // As above, for CRON workflows.
      }
    } finally {
      client.release();
    }
    await this.armDue();
    await this.armWorkflowWake();
  }

  private async armWorkflowWake(): Promise<void> {
    const dueIn = await nextWorkflowSlotIn(this.pool, this.options.lookaheadMs);
    clearTimeout(this.workflowWake);
    if (dueIn === null || dueIn >= this.options.scanIntervalMs) return;
    this.workflowWake = setTimeout(() => this.loop.trigger(), Math.max(0, dueIn) + 5);
    this.workflowWake.unref();
  }

  private async armDue(): Promise<void> {
    const sent = monotonicMs();
    const { rows } = await this.pool.query<{ id: string; due_in: number }>(
      `SELECT id, (extract(epoch FROM next_dispatch_at - now()) * 1000)::float8 AS due_in FROM instances
       WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER') AND next_dispatch_at <= now() + make_interval(secs => $1 / 1000.0)
       ORDER BY next_dispatch_at LIMIT 1000`,
      [this.options.lookaheadMs],
    );
    // due_in is relative to the database clock when the query ran: correct for the time it took.
    const elapsed = monotonicMs() - sent;
    for (const row of rows) this.timers.arm(row.id, row.due_in - elapsed / 2);
  }
}
