import type { InstanceStatus } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';
import { FINAL_SQL } from './instance-row.js';

export interface RunStats {
  minutes: number;
  /** Finished runs (only final statuses have finished_at) by the minute they finished in, oldest first. */
  buckets: { minute: number; status: InstanceStatus; count: number }[];
  /** Runs not started yet (WAITING_*). */
  waiting: number;
  running: number;
}

/** $1 app id, $2 minutes; `finished_at IS NOT NULL` is instances_finished's predicate. */
export const FINISHED_PER_MINUTE_SQL = `
  SELECT date_trunc('minute', finished_at) AS minute, status, count(*)::int AS count
  FROM instances
  WHERE app_id = $1 AND finished_at IS NOT NULL
    AND finished_at >= date_trunc('minute', now()) - make_interval(mins => $2 - 1)
  GROUP BY 1, 2 ORDER BY 1, 2`;

/** $1 app id; the predicate is instances_unfinished's (migration 0001), so that index serves it. */
export const UNFINISHED_SQL = `
  SELECT count(*) FILTER (WHERE status <> 'RUNNING')::int AS waiting,
         count(*) FILTER (WHERE status = 'RUNNING')::int AS running
  FROM instances
  WHERE app_id = $1 AND status NOT IN ${FINAL_SQL}`;

/**
 * An app's runs per minute over the last `minutes` (by the database's clock,
 * that stamps finished_at), and its unfinished runs now. Reads the window
 * through the instances_finished index and the unfinished runs through the
 * partial instances_unfinished one: no scan of the app's history.
 */
export async function runStats(db: Queryable, appId: string, minutes: number): Promise<RunStats> {
  const [finished, unfinished] = await Promise.all([
    db.query<{ minute: Date; status: InstanceStatus; count: number }>(FINISHED_PER_MINUTE_SQL, [
      appId,
      minutes,
    ]),
    db.query<{ waiting: number; running: number }>(UNFINISHED_SQL, [appId]),
  ]);
  const counts = unfinished.rows[0];
  return {
    minutes,
    buckets: finished.rows.map((r) => ({
      minute: r.minute.getTime(),
      status: r.status,
      count: r.count,
    })),
    waiting: counts?.waiting ?? 0,
    running: counts?.running ?? 0,
  };
}
