import type pg from 'pg';
import { expect } from 'vitest';
import type { WorkflowRunDetailView } from '../../src/workflows/store/workflow-runs.js';
import { getWorkflowRun } from '../../src/workflows/workflow-engine.js';
import { type WorkflowSpec, WorkflowSpecInput } from '../../src/workflows/workflow-spec.js';

// Workflows for engine tests: rows inserted with SQL (the CRUD API is built
// elsewhere), the spec parsed as users write it, job and workflow names
// resolved to ids as the API would.

export interface TestWorkflow {
  id: string;
  spec: WorkflowSpec;
}

export async function appIdOf(db: pg.Pool | pg.Client, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM apps WHERE name = $1', [name]);
  if (!rows[0]) throw new Error(`no app ${name}`);
  return rows[0].id;
}

/** Inserts a workflow; `job` and `workflow` fields of nodes are ids here. */
export async function insertWorkflow(
  db: pg.Pool | pg.Client,
  appId: string,
  input: Record<string, unknown>,
): Promise<TestWorkflow> {
  const spec = WorkflowSpecInput.parse(input);
  for (const n of spec.nodes) {
    if (n.kind === 'job') n.jobId = n.job;
    if (n.kind === 'workflow') n.workflowId = n.workflow;
  }
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO workflows (app_id, name, spec, time_expression_type) VALUES ($1, $2, $3, $4) RETURNING id`,
    [appId, spec.name, JSON.stringify(spec), spec.schedule.type],
  );
  return { id: (rows[0] as { id: string }).id, spec };
}

/** Polls the run (a database row: polling is the only way) until `done`, within `timeoutMs`. */
export async function waitForRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
  done: (r: WorkflowRunDetailView) => boolean,
  timeoutMs = 30_000,
): Promise<WorkflowRunDetailView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await getWorkflowRun(pool, appId, runId);
    if (run && done(run)) return run;
    if (Date.now() > until) throw new Error(`workflow run ${runId} still ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const isFinal = (r: { status: string }) =>
  ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(r.status);

export function node(run: WorkflowRunDetailView, id: string) {
  const n = run.nodes.find((x) => x.nodeId === id);
  expect(n, `node ${id}`).toBeDefined();
  return n as WorkflowRunDetailView['nodes'][number];
}

/** Instances of a run's nodes, each with its node and attempt. */
export async function nodeInstances(db: pg.Pool | pg.Client, runId: string) {
  const { rows } = await db.query<{
    id: string;
    node: string;
    attempt: number;
    status: string;
    params: unknown;
    finished_at: Date | null;
  }>(
    `SELECT id, workflow_node_id AS node, workflow_node_attempt AS attempt, status, params, finished_at
     FROM instances WHERE workflow_run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows;
}
