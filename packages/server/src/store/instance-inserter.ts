import type { Queryable } from '../db/pool.js';
import { isTransientDbError } from '../db/transient-error.js';
import { type BatchColumns, columnValues, unnestParams } from '../db/unnest-params.js';
import { type Instance, prefixed, type RawInstance, toInstance } from './instance-row.js';

export interface NewInstance {
  appId: string;
  jobId: string;
  triggerType: string;
  params?: unknown;
  /** Due this long after the insert (database clock); due now when 0 or omitted. */
  delayMs?: number;
  /** A second run with the same key (per job) returns the first run's instance. */
  idempotencyKey?: string;
  retryOf?: string;
  /**
   * Bound to this worker by the INSERT itself, as a claim would
   * (WAITING_WORKER_RECEIVE, epoch 1), with the deadline its timeout gives (0: none).
   */
  claim?: { workerId: string; timeoutMs: number };
  /** A workflow job node's run: the node it runs, per attempt (unique). */
  workflow?: { runId: string; nodeId: string; attempt: number };
  /** Overrides the job's instanceRetry for this run (a workflow node's retry). */
  retryPolicy?: unknown;
  /**
   * The job's version the run was built from (a kept copy of the job): added
   * only while the job is still at it, else the call fails with JobChangedError.
   */
  jobVersion?: string;
}

/** A call's job was edited (or deleted) since the copy its runs were built from: nothing of it was added. */
export class JobChangedError extends Error {
  override name = 'JobChangedError';
  constructor(readonly jobId: string) {
    super(`job ${jobId} changed while its runs were being added`);
  }
}

export interface Inserted {
  instance: Instance;
  /** False: an earlier run with the same idempotency key was returned instead. */
  created: boolean;
}

interface Group<T extends NewInstance> {
  rows: T[];
  resolve: (results: Inserted[]) => void;
  reject: (err: unknown) => void;
}

// Rows per statement; a group (one call) is never split, so one statement may hold a little more.
const MAX_ROWS_PER_STATEMENT = 2_000;

/** The whole ms a row's run waits before it is due, as written. */
const delayOf = (row: NewInstance) => Math.max(0, Math.round(row.delayMs ?? 0));

const INSERT_COLUMNS: BatchColumns<NewInstance> = {
  app_id: ['bigint', (r) => r.appId],
  job_id: ['bigint', (r) => r.jobId],
  trigger_type: ['text', (r) => r.triggerType],
  params: ['text', (r) => JSON.stringify(r.params ?? null)],
  delay_ms: ['bigint', delayOf],
  idempotency_key: ['text', (r) => r.idempotencyKey ?? null],
  retry_of: ['bigint', (r) => r.retryOf ?? null],
  worker_id: ['text', (r) => r.claim?.workerId ?? null],
  timeout_ms: ['bigint', (r) => r.claim?.timeoutMs ?? 0],
  workflow_run_id: ['bigint', (r) => r.workflow?.runId ?? null],
  workflow_node_id: ['text', (r) => r.workflow?.nodeId ?? null],
  workflow_node_attempt: ['int', (r) => r.workflow?.attempt ?? null],
  retry_policy: [
    'text',
    (r) => (r.retryPolicy === undefined ? null : JSON.stringify(r.retryPolicy)),
  ],
  job_version: ['bigint', (r) => r.jobVersion ?? null],
};

// Ids are drawn in the CTE (in input order) so each inserted row is matched to
// its input by id; rows skipped by an idempotency-key conflict come back null,
// and rows whose job is no longer at their job_version do not come back. A
// new row comes back as its id, its params and the statement's now() in whole
// ms: every other column follows from the input (see newInstance), and
// reading 22 columns back was ~10 µs a run of the server's CPU. The job's
// version is checked by a probe of its row for each run (OFFSET 0): with the
// batch's size unknown to the plan, a hash of the whole jobs table was
// planned instead, for one run as for a thousand.
const INSERT_SQL = `WITH input AS (
    SELECT nextval(pg_get_serial_sequence('instances', 'id')) AS id, r.*
    FROM ${unnestParams(INSERT_COLUMNS, 'r', { ord: true })}
    WHERE r.job_version IS NULL
       OR EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND j.version = r.job_version OFFSET 0)
    ORDER BY r.ord),
  ins AS (
    INSERT INTO instances (id, app_id, job_id, status, trigger_type, params, next_dispatch_at, due_at,
                           idempotency_key, retry_of, epoch, worker_id, dispatched_at, deadline_at,
                           workflow_run_id, workflow_node_id, workflow_node_attempt, retry_policy)
    SELECT id, app_id, job_id,
      CASE WHEN worker_id IS NULL THEN 'WAITING_DISPATCH' ELSE 'WAITING_WORKER_RECEIVE' END,
      trigger_type, params::jsonb,
      now() + make_interval(secs => delay_ms / 1000.0), now() + make_interval(secs => delay_ms / 1000.0),
      idempotency_key, retry_of,
      CASE WHEN worker_id IS NULL THEN 0 ELSE 1 END, worker_id,
      CASE WHEN worker_id IS NOT NULL THEN now() END,
      CASE WHEN worker_id IS NOT NULL AND timeout_ms > 0
        THEN now() + make_interval(secs => timeout_ms / 1000.0) END,
      workflow_run_id, workflow_node_id, workflow_node_attempt, retry_policy::jsonb
    FROM input ORDER BY ord
    ON CONFLICT (job_id, idempotency_key) DO NOTHING
    RETURNING id, params)
  SELECT input.ord, ins.id, ins.params, floor(extract(epoch FROM now()) * 1000)::float8 AS now_ms
  FROM input LEFT JOIN ins ON ins.id = input.id ORDER BY input.ord`;

const keyOf = (jobId: string, key: string) => `${jobId}\u0000${key}`;

/**
 * The row INSERT_SQL wrote for `row`, as it would read back: its times are
 * the statement's now() (whole ms, as every instance time reads) plus the
 * row's whole-ms delay or timeout.
 */
function newInstance(row: NewInstance, id: string, params: unknown, nowMs: number): Instance {
  const dueAt = nowMs + delayOf(row);
  const claim = row.claim;
  return {
    id,
    appId: row.appId,
    jobId: row.jobId,
    status: claim ? 'WAITING_WORKER_RECEIVE' : 'WAITING_DISPATCH',
    triggerType: row.triggerType,
    expectedTriggerAt: null,
    params,
    epoch: claim ? 1 : 0,
    runAttempt: 1,
    workerId: claim ? claim.workerId : null,
    nextDispatchAt: dueAt,
    dispatchedAt: claim ? nowMs : null,
    startedAt: null,
    lastReportAt: null,
    deadlineAt: claim && claim.timeoutMs > 0 ? nowMs + claim.timeoutMs : null,
    finishedAt: null,
    progress: null,
    result: null,
    reason: null,
    retryOf: row.retryOf ?? null,
    createdAt: nowMs,
    dueAt,
  };
}

/**
 * Group commit of new instances: concurrent calls are queued and written as
 * ONE multi-row INSERT, the next batch forming while one is in flight. No
 * linger: an idle inserter writes a call at once, so latency at a low rate
 * stays one commit. Each call gets its rows' instances in order; a duplicate
 * idempotency key (also twice in one batch) gets the first run's instance.
 */
export class InstanceInserter<T extends NewInstance = NewInstance> {
  private queue: Group<T>[] = [];
  private flushing = false;
  /** INSERT statements run so far (how well concurrent calls were batched). */
  statements = 0;

  constructor(
    private readonly db: Queryable,
    /** Told of every batch's newly created rows, before their callers hear back. */
    private readonly onCreated: (created: { row: T; instance: Instance }[]) => void = () => {},
  ) {}

  insert(rows: T[]): Promise<Inserted[]> {
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // A microtask: calls made in the same tick share the first statement.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch: Group<T>[] = [];
      let size = 0;
      while (
        this.queue.length &&
        (size === 0 || size + (this.queue[0]?.rows.length ?? 0) <= MAX_ROWS_PER_STATEMENT)
      ) {
        const group = this.queue.shift() as Group<T>;
        batch.push(group);
        size += group.rows.length;
      }
      await this.write(batch);
    }
    this.flushing = false;
  }

  private async write(batch: Group<T>[]): Promise<void> {
    const rows = batch.flatMap((g) => g.rows);
    let inserted: Map<number, Instance>;
    let current: Set<number>;
    try {
      ({ inserted, current } = await this.insertRows(rows));
    } catch (err) {
      // A broken connection may have committed it: only a statement Postgres
      // refused (e.g. one call's job deleted meanwhile) is written again, each
      // call on its own, so that call's bad row does not fail the others.
      if (batch.length === 1 || isTransientDbError(err)) {
        for (const group of batch) group.reject(err);
        return;
      }
      for (const group of batch) await this.write([group]);
      return;
    }
    const created = [...inserted].map(([i, instance]) => ({ row: rows[i] as T, instance }));
    if (created.length) this.onCreated(created);
    let answers: (Inserted | undefined)[];
    try {
      answers = await this.answers(rows, inserted, current);
    } catch (err) {
      for (const group of batch) group.reject(err);
      return;
    }
    let at = 0;
    for (const group of batch) {
      // A call's rows share one job and version: all of them were current, or none.
      if (current.has(at)) group.resolve(answers.slice(at, at + group.rows.length) as Inserted[]);
      else group.reject(new JobChangedError((group.rows[0] as T).jobId));
      at += group.rows.length;
    }
  }

  /**
   * Writes the rows; returns the ones created by index, and the indexes of
   * rows whose job was at their version (all without one). A key conflict
   * skips a row: with a run before, or with an earlier row of the same statement.
   */
  private async insertRows(
    input: T[],
  ): Promise<{ inserted: Map<number, Instance>; current: Set<number> }> {
    this.statements++;
    // Named and planned once per connection (see unnestParams): planning took ~0.2-0.3 ms a call.
    const { rows: out } = await this.db.query<{
      ord: string;
      id: string | null;
      params: unknown;
      now_ms: number;
    }>({
      name: 'drover.insert-instances',
      text: INSERT_SQL,
      values: columnValues(INSERT_COLUMNS, input),
    });
    const inserted = new Map<number, Instance>();
    const current = new Set<number>();
    for (const raw of out) {
      const k = Number(raw.ord) - 1;
      current.add(k);
      if (raw.id) inserted.set(k, newInstance(input[k] as T, raw.id, raw.params, raw.now_ms));
    }
    return { inserted, current };
  }

  /** Each current row's answer: its new instance, or the one holding its idempotency key. */
  private async answers(
    rows: T[],
    inserted: Map<number, Instance>,
    current: Set<number>,
  ): Promise<(Inserted | undefined)[]> {
    const conflicts = rows.filter((_, i) => current.has(i) && !inserted.has(i));
    const existing = conflicts.length ? await this.existing(conflicts) : new Map();
    return rows.map((row, i) => {
      if (!current.has(i)) return undefined;
      const own = inserted.get(i);
      if (own) return { instance: own, created: true };
      const instance = existing.get(keyOf(row.jobId, row.idempotencyKey ?? ''));
      if (!instance) throw new Error('instance vanished after an idempotency-key conflict');
      return { instance, created: false };
    });
  }

  /** The runs that already hold these rows' idempotency keys. */
  private async existing(rows: T[]): Promise<Map<string, Instance>> {
    const { rows: found } = await this.db.query<RawInstance & { idempotency_key: string }>(
      `SELECT ${prefixed('i')}, i.idempotency_key FROM instances i
       JOIN unnest($1::bigint[], $2::text[]) AS k(key_job_id, key)
         ON i.job_id = k.key_job_id AND i.idempotency_key = k.key`,
      [rows.map((r) => r.jobId), rows.map((r) => r.idempotencyKey)],
    );
    return new Map(found.map((r) => [keyOf(r.job_id, r.idempotency_key), toInstance(r)]));
  }
}
