import type pg from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from '../db/pool.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { InstanceEvents } from '../lifecycle/instance-events.js';
import type { RunIntake } from '../lifecycle/run-intake.js';
import { PeriodicLoop } from '../periodic-loop.js';
import type { Instance } from '../store/instance-row.js';
import { stopInstance } from '../store/instance-transitions.js';
import { AdvanceListener } from './advance-listener.js';
import { type Advanced, advanceRun } from './advance-run.js';
import type { WorkflowEventSink } from './workflow-events.js';

const BATCH = 200;
// A wait node's timer: longer waits are re-armed (setTimeout's range), the scan covers a lost one.
const MAX_TIMER_MS = 3_600_000;

/**
 * Advances workflow runs: every run with needs_advance (set by the node-final
 * triggers, a new run, a retry, a stop) is advanced under its row lock, at
 * once when woken (LISTEN on the triggers' notifications, or a kick from this
 * process) and by a scan every `intervalMs` — the sweeper for a run left by a
 * crash or a missed notification. Safe on every server at once: a run locked
 * by one is skipped by the others, and its advance is idempotent.
 */
export class WorkflowAdvancer {
  private readonly loop: PeriodicLoop;
  private readonly listener: AdvanceListener;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intake: RunIntake,
    private readonly dispatcher: Dispatcher,
    private readonly events: InstanceEvents,
    private readonly sink: WorkflowEventSink,
    private readonly log: Logger,
    intervalMs: number,
    /** The database's clock (wait nodes' due times are on it). */
    private readonly now: () => number = Date.now,
  ) {
    this.loop = new PeriodicLoop('workflow advancer', intervalMs, () => this.round(), log);
    this.listener = new AdvanceListener(pool, () => this.kick(), log);
  }

  start(): void {
    this.stopped = false;
    this.listener.start();
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.listener.stop();
    await this.loop.stop();
  }

  /** Advances soon (a run changed in this process; its notification would come too). */
  kick(): void {
    this.loop.trigger();
  }

  /** A workflow node's instance changed here: its end was recorded by the trigger. */
  instanceChanged(instance: Instance): void {
    if (instance.triggerType !== 'WORKFLOW') return;
    if (!['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'].includes(instance.status)) return;
    this.sink.nodeOfInstance(instance.id);
    this.kick();
  }

  /** One round: every run that needs advancing (wait nodes now due included). */
  private async round(): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_runs r SET needs_advance = true
       WHERE NOT r.needs_advance AND r.status = 'RUNNING' AND r.id IN (
         SELECT run_id FROM workflow_run_nodes WHERE status = 'WAITING' AND due_at <= now())`,
    );
    for (;;) {
      const { rows } = await this.pool.query<{ id: string }>(
        `SELECT id FROM workflow_runs WHERE needs_advance ORDER BY id LIMIT ${BATCH}`,
      );
      let advanced = 0;
      for (const { id } of rows) {
        if (this.stopped) return;
        if (await this.advance(id)) advanced++;
      }
      // Runs locked by another server (or failing) are left to the next round.
      if (rows.length < BATCH || advanced === 0) return;
    }
  }

  /** Advances one run; false when another server holds it or it failed (left for later). */
  async advance(runId: string): Promise<boolean> {
    let done: Advanced | null;
    try {
      done = await inTransaction(this.pool, (tx) => advanceRun(tx, runId, this.intake));
    } catch (err) {
      this.log.warn({ runId, err: (err as Error).message }, 'could not advance workflow run');
      return false;
    }
    if (!done) return false;
    await this.afterCommit(done);
    return true;
  }

  private async afterCommit(done: Advanced): Promise<void> {
    for (const handOff of done.handOffs) handOff();
    const { run } = done;
    for (const n of done.nodes) this.sink.node(run, n);
    if (done.runStatus) this.sink.run(run, done.runStatus.status, done.runStatus.reason);
    for (const id of done.promoted) this.sink.runById(id);
    const reason = `workflow run ${run.id} ended`;
    for (const id of done.stopInstances) await this.stopNodeInstance(id, run.appId, reason);
    for (const id of done.stopRuns) await this.stopChildRun(id, reason);
    if (done.nextDueAt) this.arm(run.id, done.nextDueAt);
  }

  /** The instance stop path of the API: STOPPED, then the TaskTracker is told. */
  private async stopNodeInstance(id: string, appId: string, reason: string): Promise<void> {
    try {
      const stopped = await stopInstance(this.pool, id, appId, reason);
      if (!stopped) return;
      this.events.changed(stopped);
      if (stopped.workerId) {
        const { rows } = await this.pool.query<{ name: string }>(
          'SELECT name FROM apps WHERE id = $1',
          [appId],
        );
        const app = rows[0]?.name;
        if (app)
          await this.dispatcher.stopTracker(app, stopped.workerId, id, stopped.epoch, reason);
      }
    } catch (err) {
      this.log.warn({ instanceId: id, err: (err as Error).message }, 'could not stop node run');
    }
  }

  /** A child run of a run that ended: STOPPED, its own advance stops its nodes. */
  private async stopChildRun(id: string, reason: string): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ id: string }>(
        `UPDATE workflow_runs SET status = 'STOPPED', reason = $2, finished_at = clock_timestamp(), needs_advance = true
         WHERE id = $1 AND status IN ('WAITING', 'RUNNING') RETURNING id`,
        [id, reason],
      );
      if (rows[0]) {
        this.sink.runById(id);
        this.kick();
      }
    } catch (err) {
      this.log.warn({ runId: id, err: (err as Error).message }, 'could not stop child run');
    }
  }

  /** A wait node's timer: at its due time the run needs advancing. */
  private arm(runId: string, dueAt: Date): void {
    clearTimeout(this.timers.get(runId));
    const inMs = Math.min(MAX_TIMER_MS, Math.max(0, dueAt.getTime() - this.now()));
    const timer = setTimeout(() => {
      this.timers.delete(runId);
      if (this.stopped) return;
      this.pool
        .query(
          `UPDATE workflow_runs SET needs_advance = true WHERE id = $1 AND status = 'RUNNING'`,
          [runId],
        )
        .then(
          () => this.kick(),
          (err: Error) => this.log.debug({ runId, err: err.message }, 'wait timer: not marked'),
        );
    }, inMs);
    timer.unref();
    this.timers.set(runId, timer);
  }
}
