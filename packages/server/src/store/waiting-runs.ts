import type { Queryable } from '../db/pool.js';

/**
 * Runs due now and not yet dispatched, by status. Read through the partial
 * index of unfinished instances, so a scrape costs one small index scan.
 */
export async function countWaitingRuns(
  db: Queryable,
): Promise<{ status: string; count: number }[]> {
  const { rows } = await db.query<{ status: string; count: string }>(
    `SELECT status, count(*) AS count FROM instances
     WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER') AND next_dispatch_at <= now()
     GROUP BY status`,
  );
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}
