import type { JsonValue } from '@drover/protocol';
import type pg from 'pg';
import { inTransaction } from '../db/pool.js';
import { ApiError, notFound } from '../http/api-error.js';
import { failingNode } from './edge-rules.js';
import {
  existingRun,
  getNodes,
  getRun,
  insertRun,
  isFinalRun,
  listRuns,
  lockRun,
  type RunFilter,
  type RunRow,
  type RunStatus,
  toDetailView,
  toRunView,
  type WorkflowRunDetailView,
  type WorkflowRunView,
} from './store/workflow-runs.js';
import type { WorkflowSpec } from './workflow-spec.js';

// The operations on workflow runs (the API and the CRON scheduler call these).
// Each writes its change with needs_advance in one transaction; the advancer
// of whichever server is woken (LISTEN, or the kick below) does the rest.

/** What the engine needs of a workflow row (store/workflows.ts has the full one). */
export interface WorkflowRowLike {
  id: string;
  spec: WorkflowSpec;
}

/** Per server: wakes its advancer and publishes run events after a commit. */
export interface EngineHooks {
  kick(): void;
  runChanged(runId: string): void;
}
// By database: a caller's own pool on the same database (a tool, a test)
// reaches a server of this process too; several servers may share a process.
const hooks = new Map<string, EngineHooks>();
const keyOf = (pool: pg.Pool) =>
  (pool as pg.Pool & { options?: { connectionString?: string } }).options?.connectionString ?? '';

/** A server attaches its advancer for its database; detaching removes only its own. */
export function attachWorkflowHooks(pool: pg.Pool, h: EngineHooks, attach = true): void {
  const key = keyOf(pool);
  if (attach) hooks.set(key, h);
  else if (hooks.get(key) === h) hooks.delete(key);
}

function changed(pool: pg.Pool, runId: string): void {
  const h = hooks.get(keyOf(pool));
  h?.runChanged(runId);
  h?.kick();
}

export async function startWorkflowRun(
  pool: pg.Pool,
  input: {
    app: { id: string; name: string };
    workflow: WorkflowRowLike;
    initParams?: JsonValue;
    triggerType: 'API' | 'CRON' | 'WORKFLOW';
    expectedTriggerAt?: Date;
    idempotencyKey?: string;
  },
): Promise<{ run: WorkflowRunView; created: boolean }> {
  const { workflow } = input;
  const key = { idempotencyKey: input.idempotencyKey, expectedTriggerAt: input.expectedTriggerAt };
  const result = await inTransaction(pool, async (tx) => {
    // New runs of one workflow are counted one at a time (maxConcurrentRuns).
    await tx.query('SELECT 1 FROM workflows WHERE id = $1 FOR UPDATE', [workflow.id]);
    if (input.idempotencyKey || input.expectedTriggerAt) {
      const before = await existingRun(tx, workflow.id, key);
      if (before) return { row: before, created: false };
    }
    const limit = workflow.spec.maxConcurrentRuns;
    let status: RunStatus = 'RUNNING';
    let reason: string | undefined;
    if (limit > 0) {
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM workflow_runs
         WHERE workflow_id = $1 AND parent_run_id IS NULL AND status IN ('WAITING', 'RUNNING')`,
        [workflow.id],
      );
      if (Number(rows[0]?.n ?? 0) >= limit) {
        if (workflow.spec.concurrencyOverflow === 'FAIL') {
          status = 'FAILED';
          reason = `workflow already has its maxConcurrentRuns (${limit}) runs unfinished`;
        } else status = 'WAITING';
      }
    }
    const initParams = input.initParams ?? null;
    const row = await insertRun(tx, {
      appId: input.app.id,
      workflowId: workflow.id,
      status,
      reason,
      triggerType: input.triggerType,
      expectedTriggerAt: input.expectedTriggerAt,
      idempotencyKey: input.idempotencyKey,
      dag: workflow.spec,
      initParams,
      context: isObject(initParams) ? initParams : {},
    });
    if (row) return { row, created: true };
    const existing = await existingRun(tx, workflow.id, key);
    if (!existing) throw new Error('workflow run vanished after a key conflict');
    return { row: existing, created: false };
  });
  if (result.created) changed(pool, result.row.id);
  return { run: toRunView(result.row), created: result.created };
}

function isObject(v: JsonValue | null): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Stops an unfinished run: STOPPED at once; its advance stops what still runs. */
export async function stopWorkflowRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
  reason = 'stopped by user',
): Promise<WorkflowRunView | null> {
  const row = await inTransaction(pool, async (tx) => {
    const run = await lockRun(tx, appId, runId);
    if (!run) return null;
    if (isFinalRun(run.status)) return { run, changed: false };
    const { rows } = await tx.query<RunRow>(
      `UPDATE workflow_runs SET status = 'STOPPED', reason = $2, finished_at = clock_timestamp(), needs_advance = true
       WHERE id = $1 RETURNING *`,
      [runId, reason],
    );
    return { run: rows[0] as RunRow, changed: true };
  });
  if (!row) return null;
  if (row.changed) changed(pool, runId);
  return toRunView(row.run);
}

/**
 * Retry in place of a FAILED or STOPPED run: its FAILED and STOPPED nodes go
 * back to PENDING with their next attempt; what succeeded is kept.
 */
export async function retryWorkflowRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
): Promise<WorkflowRunView | null> {
  const row = await inTransaction(pool, async (tx) => {
    const run = await lockRun(tx, appId, runId);
    if (!run) return null;
    if (run.status !== 'FAILED' && run.status !== 'STOPPED') {
      throw new ApiError(
        409,
        'CONFLICT',
        `workflow run ${runId} is ${run.status}: only a FAILED or STOPPED run can be retried`,
      );
    }
    await tx.query(
      `UPDATE workflow_run_nodes SET status = 'PENDING', attempt = attempt + 1, instance_id = NULL,
         child_run_id = NULL, result = NULL, reason = NULL, due_at = NULL, started_at = NULL,
         finished_at = NULL, finish_seq = NULL, marked_success = false
       WHERE run_id = $1 AND status IN ('FAILED', 'STOPPED')`,
      [runId],
    );
    const { rows } = await tx.query<RunRow>(
      `UPDATE workflow_runs SET status = 'RUNNING', reason = NULL, finished_at = NULL, needs_advance = true
       WHERE id = $1 RETURNING *`,
      [runId],
    );
    return rows[0] as RunRow;
  });
  if (!row) return null;
  changed(pool, runId);
  return toRunView(row);
}

/**
 * Marks a FAILED node SUCCEEDED; a FAILED run with no other failing node
 * goes back to RUNNING and continues.
 */
export async function markNodeSucceeded(
  pool: pg.Pool,
  appId: string,
  runId: string,
  nodeId: string,
): Promise<WorkflowRunView | null> {
  const row = await inTransaction(pool, async (tx) => {
    const run = await lockRun(tx, appId, runId);
    if (!run) return null;
    const { rowCount } = await tx.query(
      `UPDATE workflow_run_nodes SET status = 'SUCCEEDED', marked_success = true
       WHERE run_id = $1 AND node_id = $2 AND status = 'FAILED'`,
      [runId, nodeId],
    );
    if (!rowCount) {
      if (!run.dag.nodes.some((n) => n.id === nodeId))
        throw notFound(`node "${nodeId}" of workflow run ${runId}`);
      throw new ApiError(
        409,
        'CONFLICT',
        `node "${nodeId}" of workflow run ${runId} is not FAILED: only a failed node can be marked succeeded`,
      );
    }
    // A run that failed for another node too stays FAILED (retry it); else it goes on.
    const goesOn = run.status === 'FAILED' && !failingNode(run.dag, await getNodes(tx, run));
    const { rows } = await tx.query<RunRow>(
      `UPDATE workflow_runs SET needs_advance = true,
         status = CASE WHEN $2 THEN 'RUNNING' ELSE status END,
         reason = CASE WHEN $2 THEN NULL ELSE reason END,
         finished_at = CASE WHEN $2 THEN NULL ELSE finished_at END
       WHERE id = $1 RETURNING *`,
      [runId, goesOn],
    );
    return rows[0] as RunRow;
  });
  if (!row) return null;
  changed(pool, runId);
  return toRunView(row);
}

export async function getWorkflowRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
): Promise<WorkflowRunDetailView | null> {
  const run = await getRun(pool, appId, runId);
  if (!run) return null;
  return toDetailView(run, await getNodes(pool, run));
}

export async function listWorkflowRuns(
  pool: pg.Pool,
  appId: string,
  filter: RunFilter,
): Promise<WorkflowRunView[]> {
  return (await listRuns(pool, appId, filter)).map(toRunView);
}

export type { RunFilter, WorkflowRunDetailView, WorkflowRunView };
