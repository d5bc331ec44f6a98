import type { Queryable } from '../db/pool.js';

/**
 * Runs past their due time and not yet dispatched, by status (a run waiting
 * out a backoff for a worker counts; a delayed one not yet due does not).
 * Read through the partial index of unfinished instances: a scrape costs one
 * scan of the waiting rows.
 */
export async function countWaitingRuns(
  db: Queryable,
): Promise<{ status: string; count: number }[]> {
  const { rows } = await db.query<{ status: string; count: string }>(
    `SELECT status, count(*) AS count FROM instances
     WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER') AND due_at <= now()
     GROUP BY status`,
  );
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}
