import type { InstanceStatus, JsonValue } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';
import { type BatchColumns, columnValues, unnestParams } from '../db/unnest-params.js';
import {
  FINAL_SQL,
  INSTANCE_COLUMNS,
  type Instance,
  prefixed,
  type RawInstance,
  toInstance,
} from './instance-row.js';

// Every state change of an instance, each one fenced: it applies only from the
// states (and, once dispatched, the epoch) it expects, so a late or duplicate
// message can never move an instance backwards or out of a final state.

// Fence for instances not dispatched yet (epoch null), or bound to one
// worker at a given epoch and not confirmed: a dispatcher that lost a race
// must not move an instance another dispatcher has just claimed.
const UNCLAIMED_OR_AT_EPOCH = `(($2::int IS NULL AND status IN ('WAITING_DISPATCH', 'WAITING_WORKER'))
       OR ($2::int IS NOT NULL AND epoch = $2 AND status = 'WAITING_WORKER_RECEIVE'))`;

// The run's deadline is set when it is claimed (dispatched_at + the job's
// timeout; none for 0): its timeout holds from the dispatch on, with no accept
// write needed for it, and time queued on the worker counts too. A timed run
// sent ahead of its time counts from its time (`from`), not from the send.
function deadlineFrom(timeoutMsParam: string, from = 'now()'): string {
  return `CASE WHEN ${timeoutMsParam}::bigint > 0 THEN ${from} + make_interval(secs => ${timeoutMsParam}::bigint / 1000.0) END`;
}

// A run leaving the queue of its job's concurrency limit is due from now on:
// the time it waited for a slot does not count as "not started".
const LEAVE_QUEUE = 'due_at = CASE WHEN queued THEN now() ELSE due_at END, queued = false';

// A batch statement's rows: each input row (\`source\`, an unnest WITH
// ORDINALITY with \`id\` and \`ord\` columns) with the columns \`row_status\`
// and \`row_epoch\` of its run, locked in id order (two batches over the same
// runs never deadlock) and current once locked; materialized, so the UPDATE
// joins only this to \`instances\` by id and touches no row it has not
// locked. Two input rows of one run keep their order: the first one wins,
// as if each had come alone.
// - Each run is a pkey probe, never a scan by status: the partial index of
//   unfinished runs keeps an entry for every run since the last vacuum, which
//   the planner cannot see (an accept of 200 runs read 8,714 buffers after
//   300,000 runs had gone through).
// - OFFSET 0: the lookup is not pulled up into a join that the planner may
//   hash over a seq scan.
// - The input travels in the CTE: a cached generic plan joined a second
//   unnest to it by a nested loop, quadratic in the batch.
function lockedRows(name: string, source: string, where = ''): string {
  return `${name} AS MATERIALIZED (
       SELECT u.*, p.row_status, p.row_epoch
       FROM (SELECT * FROM ${source} ORDER BY id, ord) u
       CROSS JOIN LATERAL (
         SELECT status AS row_status, epoch AS row_epoch FROM instances
         WHERE id = u.id ${where} OFFSET 0 FOR UPDATE) p)`;
}

async function one(db: Queryable, sql: string, params: unknown[]): Promise<Instance | null> {
  const { rows } = await db.query<RawInstance>(`${sql} RETURNING ${INSTANCE_COLUMNS}`, params);
  return rows[0] ? toInstance(rows[0]) : null;
}

/**
 * Binds the instance to a worker under a new epoch, with its deadline
 * (`timeoutMs` 0: none). From a waiting state when `fromEpoch` is null; from
 * the given epoch when moving on to the next candidate.
 */
export function claimForDispatch(
  db: Queryable,
  id: string,
  workerId: string,
  fromEpoch: number | null,
  timeoutMs: number,
) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', epoch = epoch + 1, worker_id = $3,
       dispatched_at = now(), reason = NULL,
       deadline_at = ${deadlineFrom('$4', 'greatest(now(), next_dispatch_at)')},
       ${LEAVE_QUEUE}
     WHERE id = $1 AND ${UNCLAIMED_OR_AT_EPOCH}`,
    [id, fromEpoch, workerId, timeoutMs],
  );
}

const CLAIM_COLUMNS: BatchColumns<{ id: string; workerId: string; timeoutMs: number }> = {
  id: ['bigint', (c) => c.id],
  worker_id: ['text', (c) => c.workerId],
  timeout_ms: ['bigint', (c) => c.timeoutMs],
};

/**
 * Binds many waiting instances to their workers under new epochs, each with
 * its deadline; returns the epoch of each one claimed.
 */
export async function claimMany(
  db: Queryable,
  claims: { id: string; workerId: string; timeoutMs: number }[],
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; epoch: number }>({
    // Named, as the other batch statements: planned once per connection.
    name: 'drover.claim-instances',
    text: `WITH ${lockedRows('cur', unnestParams(CLAIM_COLUMNS, 'c', { ord: true }))}
     UPDATE instances i SET status = 'WAITING_WORKER_RECEIVE', epoch = i.epoch + 1, worker_id = cur.worker_id,
       dispatched_at = now(), reason = NULL,
       deadline_at = ${deadlineFrom('cur.timeout_ms', 'greatest(now(), i.next_dispatch_at)')},
       ${LEAVE_QUEUE}
     FROM cur
     WHERE i.id = cur.id AND cur.row_status IN ('WAITING_DISPATCH', 'WAITING_WORKER')
     RETURNING i.id, i.epoch`,
    values: columnValues(CLAIM_COLUMNS, claims),
  });
  return new Map(rows.map((r) => [r.id, r.epoch]));
}

/**
 * The TaskTracker accepted: RUNNING. The deadline was set at the claim; a row
 * claimed without one (by an older server) gets it from now.
 */
export function markAccepted(db: Queryable, id: string, epoch: number, timeoutMs: number) {
  return one(
    db,
    `UPDATE instances SET status = 'RUNNING', started_at = coalesce(started_at, now()),
       last_report_at = now(), dispatch_failures = 0,
       deadline_at = coalesce(deadline_at, ${deadlineFrom('$3')})
     WHERE id = $1 AND epoch = $2 AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')`,
    [id, epoch, timeoutMs],
  );
}

const ACCEPT_COLUMNS: BatchColumns<{ id: string; epoch: number; acceptedAt?: number }> = {
  id: ['bigint', (a) => a.id],
  epoch: ['int', (a) => a.epoch],
  accepted_ms: ['float8', (a) => a.acceptedAt ?? null],
};

/**
 * Many accepts (a `run_jobs` reply) in one statement, fenced by epoch like
 * `markAccepted`; returns the rows recorded RUNNING: only rows still
 * WAITING_WORKER_RECEIVE (one a report wrote RUNNING first, on any server,
 * was announced then). Committed without
 * waiting for the WAL flush (synchronous_commit off, for this transaction
 * only): an accept lost to a crash leaves its row WAITING_WORKER_RECEIVE,
 * and the sweeper's lost-accept check asks the worker and confirms it.
 */
export async function markAcceptedMany(
  db: Queryable,
  /** `acceptedAt`: when the worker accepted (database clock, ms), written later (held accepts). */
  accepts: { id: string; epoch: number; acceptedAt?: number }[],
): Promise<Instance[]> {
  // One round trip: the setting comes with the statement (read as soon as a row is updated).
  const { rows } = await db.query<RawInstance>({
    // Named and planned once per connection (see unnestParams): planning took ~0.3 ms a call.
    name: 'drover.accept-instances',
    text: `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
       ${lockedRows('cur', unnestParams(ACCEPT_COLUMNS, 'a', { ord: true }))}
     UPDATE instances i SET status = 'RUNNING',
       started_at = coalesce(i.started_at, least(now(), to_timestamp(cur.accepted_ms / 1000.0))),
       last_report_at = now(), dispatch_failures = 0
     FROM async_commit, cur
     WHERE i.id = cur.id AND cur.row_epoch = cur.epoch AND cur.row_status = 'WAITING_WORKER_RECEIVE'
     RETURNING ${prefixed('i')}`,
    values: columnValues(ACCEPT_COLUMNS, accepts),
  });
  return rows.map(toInstance);
}

/** The epochs of these instances, by id (an id not there is gone). */
export async function currentEpochs(db: Queryable, ids: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; epoch: number }>(
    'SELECT id, epoch FROM instances WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.epoch]));
}

/**
 * The accept of a dispatch was never recorded, but its TaskTracker runs it:
 * RUNNING, with the deadline its job's timeout gives, counted from the dispatch.
 */
export function confirmAccepted(
  db: Queryable,
  id: string,
  epoch: number,
  progress: Instance['progress'],
) {
  return one(
    db,
    `UPDATE instances SET status = 'RUNNING', started_at = coalesce(started_at, now()),
       last_report_at = now(), dispatch_failures = 0, progress = $3,
       deadline_at = (SELECT CASE WHEN j.time_expression_type NOT IN ('FIXED_RATE', 'FIXED_DELAY')
           AND coalesce((j.spec->>'instanceTimeoutMs')::bigint, 0) > 0
         THEN instances.dispatched_at + make_interval(secs => (j.spec->>'instanceTimeoutMs')::bigint / 1000.0)
         END FROM jobs j WHERE j.id = instances.job_id)
     WHERE id = $1 AND epoch = $2 AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')`,
    [id, epoch, JSON.stringify(progress)],
  );
}

/** No worker took it: wait, and try again after a backoff. */
export function waitForWorker(
  db: Queryable,
  id: string,
  epoch: number | null,
  retryInMs: number,
  reason: string,
) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_WORKER', worker_id = NULL, reason = $4,
       dispatch_failures = dispatch_failures + 1, ${LEAVE_QUEUE},
       next_dispatch_at = now() + make_interval(secs => $3::bigint / 1000.0)
     WHERE id = $1 AND ${UNCLAIMED_OR_AT_EPOCH}`,
    [id, epoch, retryInMs, reason],
  );
}

/** Back to the queue without using a retry (e.g. the accept was lost, or a concurrency limit). */
export function requeue(
  db: Queryable,
  id: string,
  epoch: number | null,
  delayMs: number,
  reason: string,
) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_DISPATCH', worker_id = NULL, reason = $4,
       next_dispatch_at = now() + make_interval(secs => $3::bigint / 1000.0),
       due_at = now() + make_interval(secs => $3::bigint / 1000.0)
     WHERE id = $1 AND ${UNCLAIMED_OR_AT_EPOCH}`,
    [id, epoch, delayMs, reason],
  );
}

/**
 * Waits for a slot of the job's max concurrent instances: the run keeps its
 * place (due_at), starts when a run of its job ends, and is looked at again
 * after `recheckMs` in case the server that freed the slot died first.
 */
export function queueForSlot(db: Queryable, id: string, recheckMs: number, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_DISPATCH', worker_id = NULL, reason = $3, queued = true,
       next_dispatch_at = now() + make_interval(secs => $2::bigint / 1000.0)
     WHERE id = $1 AND status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
    [id, recheckMs, reason],
  );
}

/**
 * A draining worker gives its run back: queued again at once for another
 * worker, without using a retry (the next dispatch bumps the epoch, which
 * fences the old TaskTracker off). A run held until its time keeps its time.
 */
export function handBack(db: Queryable, id: string, epoch: number, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_DISPATCH', worker_id = NULL, reason = $3,
       next_dispatch_at = greatest(now(), next_dispatch_at), due_at = greatest(now(), due_at)
     WHERE id = $1 AND epoch = $2 AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')`,
    [id, epoch, reason],
  );
}

/** Fails a run that never reached a worker (concurrency fail-fast, waited too long). */
export function failWaiting(db: Queryable, id: string, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'FAILED', finished_at = now(), reason = $2
     WHERE id = $1 AND status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
    [id, reason],
  );
}

/** Fails a run bound to a worker whose `run_job` can never be sent (too large for NATS). */
export function failUndeliverable(db: Queryable, id: string, epoch: number, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'FAILED', finished_at = now(), reason = $3
     WHERE id = $1 AND epoch = $2 AND status = 'WAITING_WORKER_RECEIVE'`,
    [id, epoch, reason],
  );
}

/**
 * A RUNNING report from the TaskTracker of the current epoch; with the status
 * the run had, so that a run first written RUNNING by it (its accept still
 * held) is announced as an accept is.
 */
export async function recordProgress(
  db: Queryable,
  id: string,
  epoch: number,
  progress: Instance['progress'],
): Promise<{ instance: Instance; was: InstanceStatus } | null> {
  const { rows } = await db.query<RawInstance & { was: InstanceStatus }>(
    `UPDATE instances i SET status = 'RUNNING', progress = $3, last_report_at = now(),
       started_at = coalesce(i.started_at, now())
     FROM (SELECT id, status FROM instances WHERE id = $1 FOR UPDATE) prev
     WHERE i.id = prev.id AND i.epoch = $2 AND i.status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')
     RETURNING prev.status AS was, ${prefixed('i')}`,
    [id, epoch, JSON.stringify(progress)],
  );
  const row = rows[0];
  return row ? { instance: toInstance(row), was: row.was } : null;
}

/** Locks an unfinished instance for a decision (settle); null if final or gone. */
export async function lockUnfinished(db: Queryable, id: string): Promise<Instance | null> {
  const { rows } = await db.query<RawInstance>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = $1 AND status NOT IN ${FINAL_SQL} FOR UPDATE`,
    [id],
  );
  return rows[0] ? toInstance(rows[0]) : null;
}

export function finish(
  db: Queryable,
  id: string,
  epoch: number | null,
  status: InstanceStatus,
  fields: {
    result?: JsonValue;
    reason?: string | null;
    progress?: Instance['progress'];
    /** A workflow node's context update: written with the final state, which its trigger merges. */
    contextUpdate?: Record<string, JsonValue>;
  },
  /** Only once the run's accept is recorded (RUNNING): settle records it first otherwise. */
  { acceptRecorded = false } = {},
) {
  const started = acceptRecorded ? ` AND status <> 'WAITING_WORKER_RECEIVE'` : '';
  return one(
    db,
    `UPDATE instances SET status = $3, finished_at = now(), result = coalesce($4::jsonb, result),
       reason = coalesce($5, reason), progress = coalesce($6, progress),
       context_update = coalesce($7::jsonb, context_update)
     WHERE id = $1 AND ($2::int IS NULL OR epoch = $2) AND status NOT IN ${FINAL_SQL}${started}`,
    [
      id,
      epoch,
      status,
      // JSON text: a null result is jsonb null, not SQL NULL (which keeps the old one).
      fields.result === undefined ? null : JSON.stringify(fields.result),
      fields.reason ?? null,
      fields.progress ? JSON.stringify(fields.progress) : null,
      fields.contextUpdate ? JSON.stringify(fields.contextUpdate) : null,
    ],
  );
}

/** An instance retry under its retry policy: same row, next run attempt, after a backoff. */
export function scheduleRetry(
  db: Queryable,
  id: string,
  epoch: number | null,
  delayMs: number,
  reason: string,
) {
  return one(
    db,
    `UPDATE instances SET status = 'WAITING_DISPATCH', run_attempt = run_attempt + 1, worker_id = NULL,
       reason = $4, deadline_at = NULL, next_dispatch_at = now() + make_interval(secs => $3::bigint / 1000.0),
       due_at = now() + make_interval(secs => $3::bigint / 1000.0)
     WHERE id = $1 AND ($2::int IS NULL OR epoch = $2) AND status NOT IN ${FINAL_SQL}`,
    [id, epoch, delayMs, reason],
  );
}

/** Stop from a user or a disabled job: any unfinished instance, any epoch. */
export function stopInstance(db: Queryable, id: string, appId: string, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'STOPPED', finished_at = now(), reason = $3
     WHERE id = $1 AND app_id = $2 AND status NOT IN ${FINAL_SQL}`,
    [id, appId, reason],
  );
}

/** Cancel: only a run that has not reached a worker yet. */
export function cancelInstance(db: Queryable, id: string, appId: string, reason: string) {
  return one(
    db,
    `UPDATE instances SET status = 'CANCELED', finished_at = now(), reason = $3
     WHERE id = $1 AND app_id = $2 AND status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
    [id, appId, reason],
  );
}

/** One run's final report, as `finishMany` takes it. */
export interface FinalRow {
  id: string;
  epoch: number;
  status: 'SUCCEEDED' | 'FAILED' | 'STOPPED';
  result?: JsonValue;
  progress?: Instance['progress'];
  /** When the processor started, on the worker's clock (kept within dispatch..now). */
  startedAt?: number;
  nonRetryable?: boolean;
  /** A workflow node's context update (ctx.workflow.set), merged by the node-final trigger. */
  contextUpdate?: Record<string, JsonValue>;
}

// After $1, the app's name.
const FINAL_COLUMNS: BatchColumns<FinalRow> = {
  id: ['bigint', (f) => f.id],
  epoch: ['int', (f) => f.epoch],
  status: ['text', (f) => f.status],
  result: ['jsonb', (f) => (f.result === undefined ? null : JSON.stringify(f.result))],
  progress: ['jsonb', (f) => (f.progress ? JSON.stringify(f.progress) : null)],
  started_ms: ['float8', (f) => f.startedAt ?? null],
  non_retryable: ['bool', (f) => f.nonRetryable === true],
  context_update: ['jsonb', (f) => (f.contextUpdate ? JSON.stringify(f.contextUpdate) : null)],
};

/**
 * Ends many runs of one app in one statement: each only from its own epoch
 * while bound to its worker (WAITING_WORKER_RECEIVE or RUNNING), and a FAILED
 * one only when its job has no instance retry left for it (or it is
 * nonRetryable). Returns the rows it ended, each with the status it had, so
 * the caller knows which were never recorded RUNNING. Whatever it leaves
 * (retries, stale epochs, duplicates, other apps) goes through `settle`.
 */
export async function finishMany(
  db: Queryable,
  app: string,
  finals: FinalRow[],
): Promise<{ instance: Instance; was: InstanceStatus }[]> {
  if (!finals.length) return [];
  const { rows } = await db.query<RawInstance & { was: InstanceStatus }>({
    // Named and planned once per connection (see unnestParams): planning took ~0.5 ms a call.
    name: 'drover.finish-instances',
    text: `WITH ${lockedRows(
      'r',
      unnestParams(FINAL_COLUMNS, 'r', { first: 2, ord: true }),
      'AND app_id = (SELECT a.id FROM apps a WHERE a.name = $1)',
    )}
     -- An accept committed while this waited for the row lock may have stamped
     -- started_at after this statement's now(): a run never ends before it starts.
     UPDATE instances i SET status = r.status, finished_at = greatest(now(), i.started_at),
       result = coalesce(r.result, i.result), progress = coalesce(r.progress, i.progress),
       -- The processor's own start when reported: a run held by its worker (queued,
       -- or sent ahead of its time) started later than its accept.
       started_at = coalesce(
         greatest(i.dispatched_at, least(now(), to_timestamp(r.started_ms / 1000.0))),
         i.started_at, now()),
       dispatch_failures = CASE WHEN i.status = 'WAITING_WORKER_RECEIVE' THEN 0 ELSE i.dispatch_failures END,
       context_update = coalesce(r.context_update, i.context_update)
     FROM r, jobs j
     WHERE i.id = r.id AND j.id = i.job_id AND r.row_epoch = r.epoch
       AND r.row_status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')
       AND (r.status <> 'FAILED' OR r.non_retryable
         OR i.run_attempt >= coalesce(
           (coalesce(i.retry_policy, j.spec->'instanceRetry')->>'maximumAttempts')::int, 0))
     RETURNING r.row_status AS was, ${prefixed('i')}`,
    values: [app, ...columnValues(FINAL_COLUMNS, finals)],
  });
  return rows.map((r) => ({ instance: toInstance(r), was: r.was }));
}
