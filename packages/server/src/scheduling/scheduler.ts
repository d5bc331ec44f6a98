import type pg from 'pg';
import type { Logger } from 'pino';
import type { DispatchTimers } from '../dispatch/dispatch-timers.js';
import { claimDueJobs } from './claim-due-jobs.js';

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
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly timers: DispatchTimers,
    private readonly log: Logger,
    private readonly options: SchedulerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.tick();
  }

  /** Runs a round soon (e.g. a job was created or enabled), without waiting for the next tick. */
  poke(): void {
    this.tick();
  }

  // At most one round runs and one waits: pokes arriving meanwhile share the waiting one.
  private queued = false;

  private tick(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    clearTimeout(this.timer);
    this.round = this.round
      .then(() => {
        this.queued = false;
        return this.runRound();
      })
      .finally(() => {
        if (this.stopped || this.queued) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.tick(), this.options.scanIntervalMs);
      });
  }

  private async runRound(): Promise<void> {
    try {
      const client = await this.pool.connect();
      try {
        while ((await claimDueJobs(client, this.options.lookaheadMs)) >= 200) {
          // A full batch: there may be more due jobs right away.
        }
      } finally {
        client.release();
      }
      await this.armDue();
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'scheduling round failed; retrying next round',
      );
    }
  }

  private async armDue(): Promise<void> {
    const sent = Date.now();
    const { rows } = await this.pool.query<{ id: string; due_in: number }>(
      `SELECT id, (extract(epoch FROM next_dispatch_at - now()) * 1000)::float8 AS due_in FROM instances
       WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER') AND next_dispatch_at <= now() + make_interval(secs => $1 / 1000.0)
       ORDER BY next_dispatch_at LIMIT 1000`,
      [this.options.lookaheadMs],
    );
    // due_in is relative to the database clock when the query ran: correct for the time it took.
    const elapsed = Date.now() - sent;
    for (const row of rows) this.timers.arm(row.id, row.due_in - elapsed / 2);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }
}
