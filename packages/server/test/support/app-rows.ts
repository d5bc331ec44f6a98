import type pg from 'pg';
import { uniqueName } from '../../../../test/harness/fixtures.js';

/** An app written straight to the database (no API, no secret to use): its name and id. */
export async function insertApp(db: pg.Pool): Promise<{ name: string; id: string }> {
  const name = uniqueName('app');
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO apps (name, secret_hash) VALUES ($1, 'x') RETURNING id`,
    [name],
  );
  return { name, id: rows[0]?.id as string };
}

/** An API job of the app written straight to the database, with this spec: its id. */
export async function insertJob(db: pg.Pool, appId: string, spec: object = {}): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type) VALUES ($1, $2, $3, 'API') RETURNING id`,
    [appId, uniqueName('j'), spec],
  );
  return rows[0]?.id as string;
}

/**
 * `n` runs of the job written straight to the database in one statement, in
 * this status: a status bound to a worker (WAITING_WORKER_RECEIVE, RUNNING)
 * on worker `w-1` at epoch 1, any other unclaimed (epoch 0). Their ids.
 */
export async function insertRuns(
  db: pg.Pool,
  appId: string,
  jobId: string,
  status: string,
  n: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, epoch, worker_id, dispatched_at)
     SELECT $1, $2, $3, 'API', b::int, CASE WHEN b THEN 'w-1' END, CASE WHEN b THEN now() END
     FROM generate_series(1, $4), (SELECT $3 IN ('WAITING_WORKER_RECEIVE', 'RUNNING') AS b) bound
     RETURNING id`,
    [appId, jobId, status, n],
  );
  return rows.map((r) => r.id);
}
