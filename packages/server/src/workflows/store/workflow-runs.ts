import type { apiViews, JsonValue } from '@drover/protocol';
import type { z } from 'zod/v4';
import type { Queryable } from '../../db/pool.js';
import type { WorkflowSpec } from '../workflow-spec.js';

// Rows of workflow runs and their nodes, and the views the API answers with.

export type WorkflowRunView = z.output<typeof apiViews.WorkflowRunView>;
export type WorkflowRunDetailView = z.output<typeof apiViews.WorkflowRunDetailView>;
export type RunStatus = WorkflowRunView['status'];
export type NodeStatus = WorkflowRunDetailView['nodes'][number]['status'];

export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['SUCCEEDED', 'FAILED', 'STOPPED'];
export const isFinalRun = (s: RunStatus) => FINAL_RUN_STATUSES.includes(s);

export interface RunRow {
  id: string;
  app_id: string;
  workflow_id: string;
  status: RunStatus;
  trigger_type: string;
  expected_trigger_at: Date | null;
  dag: WorkflowSpec;
  init_params: JsonValue | null;
  context: Record<string, JsonValue>;
  parent_run_id: string | null;
  parent_node_id: string | null;
  depth: number;
  needs_advance: boolean;
  reason: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NodeRow {
  run_id: string;
  node_id: string;
  status: NodeStatus;
  attempt: number;
  instance_id: string | null;
  child_run_id: string | null;
  result: JsonValue | null;
  reason: string | null;
  due_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  marked_success: boolean;
}

export const RUN_COLUMNS =
  'id, app_id, workflow_id, status, trigger_type, expected_trigger_at, dag, init_params, context, parent_run_id, ' +
  'parent_node_id, depth, needs_advance, reason, created_at, started_at, finished_at';

const ms = (d: Date | null) => (d ? d.getTime() : null);

export function toRunView(r: RunRow): WorkflowRunView {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    status: r.status,
    triggerType: r.trigger_type,
    expectedTriggerAt: ms(r.expected_trigger_at),
    context: r.context,
    initParams: r.init_params,
    parentRunId: r.parent_run_id,
    parentNodeId: r.parent_node_id,
    reason: r.reason,
    createdAt: r.created_at.getTime(),
    startedAt: ms(r.started_at),
    finishedAt: ms(r.finished_at),
  };
}

export function toDetailView(r: RunRow, nodes: NodeRow[]): WorkflowRunDetailView {
  const kinds = new Map(r.dag.nodes.map((n) => [n.id, n.kind]));
  return {
    ...toRunView(r),
    nodes: nodes.map((n) => ({
      nodeId: n.node_id,
      kind: kinds.get(n.node_id) ?? 'job',
      status: n.status,
      attempt: n.attempt,
      instanceId: n.instance_id,
      childRunId: n.child_run_id,
      result: n.result,
      reason: n.reason,
      startedAt: ms(n.started_at),
      finishedAt: ms(n.finished_at),
      markedSuccess: n.marked_success,
    })),
  };
}

export async function getRun(db: Queryable, appId: string, runId: string): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE id = $1 AND app_id = $2`,
    [runId, appId],
  );
  return rows[0] ?? null;
}

/** Locks a run for a change by the API (stop, retry, mark); null when not in this app. */
export async function lockRun(db: Queryable, appId: string, runId: string): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE id = $1 AND app_id = $2 FOR UPDATE`,
    [runId, appId],
  );
  return rows[0] ?? null;
}

/** The run's nodes in the order its DAG lists them. */
export async function getNodes(db: Queryable, run: Pick<RunRow, 'id' | 'dag'>): Promise<NodeRow[]> {
  const { rows } = await db.query<NodeRow>(
    `SELECT run_id, node_id, status, attempt, instance_id, child_run_id, result, reason, due_at,
       started_at, finished_at, marked_success FROM workflow_run_nodes WHERE run_id = $1`,
    [run.id],
  );
  const order = new Map(run.dag.nodes.map((n, i) => [n.id, i]));
  return rows.sort((a, b) => (order.get(a.node_id) ?? 0) - (order.get(b.node_id) ?? 0));
}

export interface NewRun {
  appId: string;
  workflowId: string;
  status: RunStatus;
  triggerType: string;
  expectedTriggerAt?: Date;
  idempotencyKey?: string;
  dag: WorkflowSpec;
  initParams: JsonValue | null;
  context: Record<string, JsonValue>;
  parent?: { runId: string; nodeId: string; depth: number };
  reason?: string;
}

/**
 * Inserts a run and its nodes (all PENDING); null when a run with the same
 * idempotency key or CRON slot exists. A RUNNING run starts with needs_advance.
 */
export async function insertRun(db: Queryable, r: NewRun): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO workflow_runs (app_id, workflow_id, status, trigger_type, expected_trigger_at,
       idempotency_key, dag, init_params, context, parent_run_id, parent_node_id, depth,
       needs_advance, reason, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $3 = 'RUNNING', $13,
       CASE WHEN $3 = 'RUNNING' THEN clock_timestamp() END,
       CASE WHEN $3 IN ('SUCCEEDED', 'FAILED', 'STOPPED') THEN clock_timestamp() END)
     ON CONFLICT DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    [
      r.appId,
      r.workflowId,
      r.status,
      r.triggerType,
      r.expectedTriggerAt ?? null,
      r.idempotencyKey ?? null,
      JSON.stringify(r.dag),
      JSON.stringify(r.initParams),
      JSON.stringify(r.context),
      r.parent?.runId ?? null,
      r.parent?.nodeId ?? null,
      r.parent ? r.parent.depth : 0,
      r.reason ?? null,
    ],
  );
  const run = rows[0];
  if (!run) return null;
  await db.query(`INSERT INTO workflow_run_nodes (run_id, node_id) SELECT $1, unnest($2::text[])`, [
    run.id,
    r.dag.nodes.map((n) => n.id),
  ]);
  return run;
}

/** The run that already holds this idempotency key or CRON slot. */
export async function existingRun(
  db: Queryable,
  workflowId: string,
  key: { idempotencyKey?: string; expectedTriggerAt?: Date },
): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE workflow_id = $1
       AND (idempotency_key = $2 OR expected_trigger_at = $3) ORDER BY id LIMIT 1`,
    [workflowId, key.idempotencyKey ?? null, key.expectedTriggerAt ?? null],
  );
  return rows[0] ?? null;
}

export interface RunFilter {
  workflowId?: string;
  /** A run status (the API checks the value). */
  status?: string;
  limit: number;
  /** Runs with a smaller id (newest first, for paging). */
  beforeId?: string;
}

export async function listRuns(db: Queryable, appId: string, f: RunFilter): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs
     WHERE app_id = $1 AND ($2::bigint IS NULL OR workflow_id = $2)
       AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [appId, f.workflowId ?? null, f.status ?? null, f.beforeId ?? null, f.limit],
  );
  return rows;
}

/** Sets fields of one node; `finished` also stamps its end and finish order. */
export async function setNode(
  db: Queryable,
  runId: string,
  nodeId: string,
  fields: {
    status: NodeStatus;
    result?: JsonValue;
    reason?: string | null;
    instanceId?: string;
    childRunId?: string;
    dueAt?: Date;
    /** A wait node's start: the moment its due time counts from. */
    startedAt?: Date;
    finished?: boolean;
  },
): Promise<void> {
  await db.query(
    `UPDATE workflow_run_nodes SET status = $3,
       result = CASE WHEN $4::boolean THEN $5::jsonb ELSE result END,
       reason = CASE WHEN $6::boolean THEN $7 ELSE reason END,
       instance_id = coalesce($8, instance_id), child_run_id = coalesce($9, child_run_id),
       due_at = coalesce($10, due_at),
       -- clock_timestamp(), not now(): now() is when this transaction began, and
       -- under READ COMMITTED it may see a predecessor that finished after that.
       started_at = coalesce(started_at, $12, clock_timestamp()),
       finished_at = CASE WHEN $11::boolean THEN clock_timestamp() ELSE finished_at END,
       finish_seq = CASE WHEN $11::boolean THEN nextval('workflow_node_finish_seq') ELSE finish_seq END
     WHERE run_id = $1 AND node_id = $2`,
    [
      runId,
      nodeId,
      fields.status,
      fields.result !== undefined,
      fields.result === undefined ? null : JSON.stringify(fields.result),
      fields.reason !== undefined,
      fields.reason ?? null,
      fields.instanceId ?? null,
      fields.childRunId ?? null,
      fields.dueAt ?? null,
      fields.finished === true,
      fields.startedAt ?? null,
    ],
  );
}

/** Ends a run (its status, reason and end) and clears needs_advance. */
export async function finishRun(
  db: Queryable,
  runId: string,
  status: RunStatus,
  reason: string | null,
): Promise<void> {
  await db.query(
    `UPDATE workflow_runs SET status = $2, reason = $3, finished_at = clock_timestamp(), needs_advance = false
     WHERE id = $1`,
    [runId, status, reason],
  );
}
