import type { InstanceStatus } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';
import { INSTANCE_COLUMNS, type Instance, type RawInstance, toInstance } from './instance-row.js';

export async function getInstance(
  db: Queryable,
  id: string,
  appId?: string,
): Promise<Instance | null> {
  const { rows } = await db.query<RawInstance>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = $1 AND ($2::bigint IS NULL OR app_id = $2)`,
    [id, appId ?? null],
  );
  return rows[0] ? toInstance(rows[0]) : null;
}

export interface InstanceFilter {
  appId: string;
  jobId?: string;
  statuses?: InstanceStatus[];
  /** Newest first: only ids below this one. */
  beforeId?: string;
  /** Runs dispatched to this worker (its latest dispatch). */
  workerId?: string;
  /** Created at or after this time (ms epoch). */
  createdAfter?: number;
  /** Created before this time (ms epoch). */
  createdBefore?: number;
  limit: number;
}

/**
 * $1 app, $2 job, $3 statuses, $4 before id, $5 limit, $6 worker, $7/$8 created
 * from (inclusive) / to (exclusive) in ms. Walks ids newest first (primary key,
 * instances_by_app or instances_by_job) until `limit` rows match: no index of its
 * own for the worker or the times (each one would slow every run's insert).
 */
export const LIST_INSTANCES_SQL = `
  SELECT ${INSTANCE_COLUMNS} FROM instances
  WHERE app_id = $1 AND ($2::bigint IS NULL OR job_id = $2)
    AND ($3::text[] IS NULL OR status = ANY($3)) AND ($4::bigint IS NULL OR id < $4)
    AND ($6::text IS NULL OR worker_id = $6)
    AND ($7::float8 IS NULL OR created_at >= to_timestamp($7 / 1000.0))
    AND ($8::float8 IS NULL OR created_at < to_timestamp($8 / 1000.0))
  ORDER BY id DESC LIMIT $5`;

export async function listInstances(db: Queryable, f: InstanceFilter): Promise<Instance[]> {
  const { rows } = await db.query<RawInstance>(LIST_INSTANCES_SQL, [
    f.appId,
    f.jobId ?? null,
    f.statuses?.length ? f.statuses : null,
    f.beforeId ?? null,
    f.limit,
    f.workerId ?? null,
    f.createdAfter ?? null,
    f.createdBefore ?? null,
  ]);
  return rows.map(toInstance);
}

/** Unfinished instances of a job that hold a worker (for max-concurrency checks). */
export async function countActive(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM instances
     WHERE job_id = $1 AND status IN ('WAITING_WORKER_RECEIVE', 'RUNNING')`,
    [jobId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The job's runs next in line for `slots` free slots, oldest due first:
 * queued and due runs, runs whose wait for a worker is over, and `self` (the
 * run being dispatched, whatever its due time). Those picked are due now, so
 * a queued run's later re-check does not hold its dispatch back.
 */
export async function nextInLine(
  db: Queryable,
  jobId: string,
  self: string | null,
  slots: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH line AS (
       SELECT id, due_at FROM instances
       WHERE job_id = $1 AND status IN ('WAITING_DISPATCH', 'WAITING_WORKER')
         AND (id = $2::bigint OR (status = 'WAITING_DISPATCH' AND due_at <= now())
              OR (status = 'WAITING_WORKER' AND next_dispatch_at <= now()))
       ORDER BY due_at, id LIMIT $3),
     pulled AS (
       UPDATE instances i SET next_dispatch_at = now() FROM line
       WHERE i.id = line.id AND i.next_dispatch_at > now())
     SELECT id FROM line ORDER BY due_at, id`,
    [jobId, self, slots],
  );
  return rows.map((r) => r.id);
}
