import type { Logger } from 'pino';
import type { Queryable } from '../db/pool.js';
import type { DispatchTimers } from '../dispatch/dispatch-timers.js';
import type { Dispatcher, InsertPick } from '../dispatch/dispatcher.js';
import type { DispatchContext } from '../dispatch/load-for-dispatch.js';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent } from '../jobs/time-expression.js';
import { type Inserted, InstanceInserter, type NewInstance } from '../store/instance-inserter.js';
import type { Instance } from '../store/instance-row.js';

/** A run to create, with what its dispatch needs. */
export interface RunRequest extends Omit<NewInstance, 'claim'> {
  /** The app's name (NATS subjects). */
  app: string;
  spec: JobSpec;
}

type Row = NewInstance & { app: string; spec: JobSpec };

/**
 * Where API runs and retries enter: group-committed inserts, a due run of a
 * job with no concurrency limit bound to a worker by its INSERT (one round
 * trip for insert and claim), then each batch handed to the dispatcher at
 * once, delayed runs armed on their timers.
 */
export class RunIntake {
  private readonly inserter: InstanceInserter<Row>;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(
    db: Queryable,
    private readonly dispatcher: Dispatcher,
    private readonly timers: DispatchTimers,
    private readonly log: Logger,
    /** Told of each batch of new runs' jobs (metrics). */
    private readonly onCreated: (jobIds: string[]) => void = () => {},
  ) {
    this.inserter = new InstanceInserter<Row>(db, (created) => this.handOff(created));
  }

  /** INSERT statements so far: fewer than calls when concurrent calls were batched. */
  get statements(): number {
    return this.inserter.statements;
  }

  /** Each request's instance in order; `created: false` for an idempotency-key repeat. */
  async create(requests: RunRequest[]): Promise<Inserted[]> {
    // By request: the worker each run was bound to at its insert.
    const picks: (InsertPick | undefined)[] = [];
    const pickAtInsert = this.dispatcher.insertPicker();
    const rows = requests.map((r, i) => {
      if ((r.delayMs ?? 0) > 0) return r;
      const pick = pickAtInsert(r.app, r.spec);
      if (pick === undefined) return r;
      picks[i] = pick;
      const timeoutMs = isFrequent(r.spec.timeExpressionType) ? 0 : r.spec.instanceTimeoutMs;
      return { ...r, claim: { workerId: pick.workerId, timeoutMs } };
    });
    // A run not created (a repeated idempotency key, a job edited meanwhile, a
    // failed write) is never sent: its worker's slot is free again at once,
    // not only at its next heartbeat.
    let answers: Inserted[];
    try {
      answers = await this.inserter.insert(rows);
    } catch (err) {
      for (const pick of picks) pick?.unpick();
      throw err;
    }
    answers.forEach((answer, i) => {
      if (!answer.created) picks[i]?.unpick();
    });
    return answers;
  }

  /**
   * Inserts runs inside the caller's transaction (a workflow node's run,
   * created under its workflow run's lock); `handOff` dispatches them once
   * the caller has committed (nothing is dispatched before its row is visible).
   */
  async createIn(
    tx: Queryable,
    requests: RunRequest[],
  ): Promise<{ inserted: Inserted[]; handOff: () => void }> {
    const created: Instance[] = [];
    const inserter = new InstanceInserter<Row>(tx, (rows) => {
      for (const c of rows) created.push(c.instance);
    });
    const inserted = await inserter.insert(requests);
    return {
      inserted,
      handOff: () => {
        this.onCreated(created.map((i) => i.jobId));
        if (this.closed || !created.length) return;
        this.track(this.dispatcher.dispatch(created.map((i) => i.id)));
      },
    };
  }

  private handOff(created: { row: Row; instance: Instance }[]): void {
    this.onCreated(created.map((c) => c.instance.jobId));
    if (this.closed) return; // the rows wait; the next server's scans dispatch them
    const claimed: { ctx: DispatchContext; epoch: number }[] = [];
    const waiting: DispatchContext[] = [];
    for (const { row, instance } of created) {
      const ctx = { instance, spec: row.spec, app: row.app, dispatchFailures: 0 };
      if ((row.delayMs ?? 0) > 0) this.timers.arm(instance.id, row.delayMs ?? 0);
      else if (row.claim) claimed.push({ ctx, epoch: instance.epoch });
      else waiting.push(ctx);
    }
    if (claimed.length) this.track(this.dispatcher.dispatchClaimed(claimed));
    if (waiting.length) this.track(this.dispatcher.dispatchLoaded(waiting));
  }

  private track(dispatch: Promise<void>): void {
    const run: Promise<void> = dispatch
      .catch((err: unknown) => this.log.warn({ err }, 'dispatch of new runs failed'))
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Stops handing off new runs and waits for dispatches under way. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }
}
