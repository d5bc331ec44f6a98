import type { JsonValue } from '@drover/protocol';
import type pg from 'pg';
import type { JobSpec } from '../jobs/job-spec.js';
import { type Instance, prefixed, type RawInstance, toInstance } from '../store/instance-row.js';

export interface DispatchContext {
  instance: Instance;
  spec: JobSpec;
  app: string;
  dispatchFailures: number;
  /** A workflow node's run: its run's context as it is at this dispatch. */
  workflow?: { runId: string; nodeId: string; context: Record<string, JsonValue> };
}

/** Loads the waiting ones among `ids`, with their job spec and app name, in one query. */
export async function loadForDispatch(pool: pg.Pool, ids: string[]): Promise<DispatchContext[]> {
  const { rows } = await pool.query<
    RawInstance & {
      spec: JobSpec;
      app: string;
      dispatch_failures: number;
      workflow_run_id: string | null;
      workflow_node_id: string | null;
      workflow_context: Record<string, JsonValue> | null;
    }
  >(
    `SELECT ${prefixed('i')}, i.dispatch_failures, j.spec, a.name AS app,
       i.workflow_run_id, i.workflow_node_id, w.context AS workflow_context FROM instances i
     JOIN jobs j ON j.id = i.job_id JOIN apps a ON a.id = i.app_id
     LEFT JOIN workflow_runs w ON w.id = i.workflow_run_id
     WHERE i.id = ANY($1::bigint[]) AND i.status IN ('WAITING_DISPATCH', 'WAITING_WORKER')`,
    [ids],
  );
  // One object per job: its rows come from one snapshot, so they hold the same
  // spec, and a compact run_jobs batch gives runs of one spec one entry.
  const specs = new Map<string, JobSpec>();
  const specOf = (row: { job_id: string; spec: JobSpec }) => {
    const known = specs.get(row.job_id);
    if (known) return known;
    specs.set(row.job_id, row.spec);
    return row.spec;
  };
  return rows.map((row) => ({
    instance: toInstance(row),
    spec: specOf(row),
    app: row.app,
    dispatchFailures: row.dispatch_failures,
    workflow:
      row.workflow_run_id && row.workflow_node_id
        ? {
            runId: row.workflow_run_id,
            nodeId: row.workflow_node_id,
            context: row.workflow_context ?? {},
          }
        : undefined,
  }));
}
