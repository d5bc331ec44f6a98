import type pg from 'pg';
import type { JobSpec } from '../jobs/job-spec.js';
import { type Instance, prefixed, type RawInstance, toInstance } from '../store/instance-row.js';

export interface DispatchContext {
  instance: Instance;
  spec: JobSpec;
  app: string;
  dispatchFailures: number;
}

/** Loads the waiting ones among `ids`, with their job spec and app name, in one query. */
export async function loadForDispatch(pool: pg.Pool, ids: string[]): Promise<DispatchContext[]> {
  const { rows } = await pool.query<
    RawInstance & { spec: JobSpec; app: string; dispatch_failures: number }
  >(
    `SELECT ${prefixed('i')}, i.dispatch_failures, j.spec, a.name AS app FROM instances i
     JOIN jobs j ON j.id = i.job_id JOIN apps a ON a.id = i.app_id
     WHERE i.id = ANY($1::bigint[]) AND i.status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
    [ids],
  );
  return rows.map((row) => ({
    instance: toInstance(row),
    spec: row.spec,
    app: row.app,
    dispatchFailures: row.dispatch_failures,
  }));
}
