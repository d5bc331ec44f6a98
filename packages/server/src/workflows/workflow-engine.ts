import { apiViews, type JsonValue } from '@drover/protocol';
import type pg from 'pg';
import type { z } from 'zod';
import type { WorkflowRow } from './store/workflows.js';

// STAND-IN for the engine built on branch wf-engine (H1): the same exports,
// enough for the API, scheduling and CLI to be built and tested before it
// lands. startWorkflowRun inserts the run and its PENDING nodes (nothing
// advances them); stop, retry and mark-success throw. Replace with wf-engine.

export type WorkflowRunView = z.output<typeof apiViews.WorkflowRunView>;
export type WorkflowRunDetailView = z.output<typeof apiViews.WorkflowRunDetailView>;

export interface StartWorkflowRunInput {
  app: { id: string; name: string };
  workflow: WorkflowRow;
  initParams?: JsonValue;
  triggerType: 'API' | 'CRON' | 'WORKFLOW';
  expectedTriggerAt?: Date;
  idempotencyKey?: string;
}

interface RawRun {
  id: string;
  workflow_id: string;
  status: string;
  trigger_type: string;
  context: unknown;
  init_params: unknown;
  parent_run_id: string | null;
  parent_node_id: string | null;
  reason: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const RUN_COLUMNS =
  'id, workflow_id, status, trigger_type, context, init_params, parent_run_id, parent_node_id, reason, created_at, started_at, finished_at';

function toRun(r: RawRun): WorkflowRunView {
  return apiViews.WorkflowRunView.parse({
    id: r.id,
    workflowId: r.workflow_id,
    status: r.status,
    triggerType: r.trigger_type,
    context: r.context,
    initParams: r.init_params,
    parentRunId: r.parent_run_id,
    parentNodeId: r.parent_node_id,
    reason: r.reason,
    createdAt: r.created_at.getTime(),
    startedAt: r.started_at?.getTime() ?? null,
    finishedAt: r.finished_at?.getTime() ?? null,
  });
}

export async function startWorkflowRun(
  pool: pg.Pool,
  input: StartWorkflowRunInput,
): Promise<{ run: WorkflowRunView; created: boolean }> {
  const { app, workflow, initParams } = input;
  const context =
    initParams !== null && typeof initParams === 'object' && !Array.isArray(initParams)
      ? initParams
      : {};
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<RawRun>(
      `INSERT INTO workflow_runs (app_id, workflow_id, status, trigger_type, expected_trigger_at,
         idempotency_key, dag, init_params, context, started_at)
       VALUES ($1, $2, 'RUNNING', $3, $4, $5, $6, $7, $8, now())
       ON CONFLICT DO NOTHING RETURNING ${RUN_COLUMNS}`,
      [
        app.id,
        workflow.id,
        input.triggerType,
        input.expectedTriggerAt ?? null,
        input.idempotencyKey ?? null,
        workflow.spec,
        initParams === undefined ? null : JSON.stringify(initParams),
        JSON.stringify(context),
      ],
    );
    let row = rows[0];
    const created = row !== undefined;
    if (row) {
      await client.query(
        `INSERT INTO workflow_run_nodes (run_id, node_id) SELECT $1, unnest($2::text[])`,
        [row.id, workflow.spec.nodes.map((n) => n.id)],
      );
    } else {
      const found = await client.query<RawRun>(
        `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE workflow_id = $1
           AND (idempotency_key = $2 OR expected_trigger_at = $3)`,
        [workflow.id, input.idempotencyKey ?? null, input.expectedTriggerAt ?? null],
      );
      row = found.rows[0];
    }
    await client.query('COMMIT');
    if (!row) throw new Error('workflow run neither inserted nor found');
    return { run: toRun(row), created };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function stopWorkflowRun(
  _pool: pg.Pool,
  _appId: string,
  _runId: string,
  _reason?: string,
): Promise<WorkflowRunView | null> {
  throw new Error('stopWorkflowRun: not in the stand-in engine');
}

export async function retryWorkflowRun(
  _pool: pg.Pool,
  _appId: string,
  _runId: string,
): Promise<WorkflowRunView | null> {
  throw new Error('retryWorkflowRun: not in the stand-in engine');
}

export async function markNodeSucceeded(
  _pool: pg.Pool,
  _appId: string,
  _runId: string,
  _nodeId: string,
): Promise<WorkflowRunView | null> {
  throw new Error('markNodeSucceeded: not in the stand-in engine');
}

export async function getWorkflowRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
): Promise<WorkflowRunDetailView | null> {
  const { rows } = await pool.query<RawRun & { dag: WorkflowRow['spec'] }>(
    `SELECT ${RUN_COLUMNS}, dag FROM workflow_runs WHERE app_id = $1 AND id = $2`,
    [appId, runId],
  );
  const row = rows[0];
  if (!row) return null;
  const nodes = await pool.query<{
    node_id: string;
    status: string;
    attempt: number;
    instance_id: string | null;
    child_run_id: string | null;
    result: unknown;
    reason: string | null;
    started_at: Date | null;
    finished_at: Date | null;
    marked_success: boolean;
  }>('SELECT * FROM workflow_run_nodes WHERE run_id = $1', [runId]);
  const kinds = new Map(row.dag.nodes.map((n) => [n.id, n.kind]));
  return {
    ...toRun(row),
    nodes: row.dag.nodes.flatMap((node) => {
      const n = nodes.rows.find((r) => r.node_id === node.id);
      if (!n) return [];
      return [
        apiViews.WorkflowNodeView.parse({
          nodeId: n.node_id,
          kind: kinds.get(n.node_id) ?? 'job',
          status: n.status,
          attempt: n.attempt,
          instanceId: n.instance_id,
          childRunId: n.child_run_id,
          result: n.result,
          reason: n.reason,
          startedAt: n.started_at?.getTime() ?? null,
          finishedAt: n.finished_at?.getTime() ?? null,
          markedSuccess: n.marked_success,
        }),
      ];
    }),
  };
}

export async function listWorkflowRuns(
  pool: pg.Pool,
  appId: string,
  filter: { workflowId?: string; status?: string; limit: number; beforeId?: string },
): Promise<WorkflowRunView[]> {
  const { rows } = await pool.query<RawRun>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE app_id = $1
       AND ($2::bigint IS NULL OR workflow_id = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::bigint IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [
      appId,
      filter.workflowId ?? null,
      filter.status ?? null,
      filter.beforeId ?? null,
      filter.limit,
    ],
  );
  return rows.map(toRun);
}
