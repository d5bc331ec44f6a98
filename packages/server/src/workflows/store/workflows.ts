import type pg from 'pg';
import { inTransaction, type Queryable } from '../../db/pool.js';
import { nextTrigger, type Schedule } from '../../jobs/time-expression.js';
import { type Saving, validateWorkflow } from '../validate-workflow.js';
import type { WorkflowSpec, WorkflowSpecBody } from '../workflow-spec.js';

// The `workflows` rows: create, replace, enable/disable, read, delete. Saves
// validate the graph and resolve references in the same transaction, under a
// per-app lock, so two saves cannot build a nesting cycle between them.

export interface WorkflowRow {
  id: string;
  appId: string;
  name: string;
  spec: WorkflowSpec;
  enabled: boolean;
  nextTriggerAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface RawWorkflow {
  id: string;
  app_id: string;
  name: string;
  spec: WorkflowSpec;
  enabled: boolean;
  next_trigger_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, app_id, name, spec, enabled, next_trigger_at, created_at, updated_at';
// Advisory lock class of workflow saves (the key is the app id).
const SAVE_LOCK = 15;

function toWorkflow(r: RawWorkflow): WorkflowRow {
  return {
    id: r.id,
    appId: r.app_id,
    name: r.name,
    spec: r.spec,
    enabled: r.enabled,
    nextTriggerAt: r.next_trigger_at?.getTime() ?? null,
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
  };
}

export function workflowSchedule(spec: WorkflowSpec): Schedule {
  return {
    timeExpressionType: spec.schedule.type,
    timeExpression: spec.schedule.expression,
    timeZone: spec.schedule.timeZone,
    lifecycle: spec.lifecycle,
  };
}

/** The first slot after `nowMs` of an enabled CRON workflow (inside its lifecycle), else null. */
export function firstWorkflowTrigger(spec: WorkflowSpec, nowMs: number): Date | null {
  if (!spec.enabled || spec.schedule.type !== 'CRON') return null;
  const next = nextTrigger(workflowSchedule(spec), nowMs);
  return next === null ? null : new Date(next);
}

export class WorkflowNameTakenError extends Error {
  constructor(name: string) {
    super(`a workflow named "${name}" already exists in this app`);
  }
}

/** A delete refused: the workflow has unfinished runs, or another workflow nests it. */
export class WorkflowInUseError extends Error {}

interface AppRef {
  id: string;
  name: string;
}

/**
 * Serialises workflow saves (and job deletes, which must not remove a job a
 * save is about to reference) of one app until the transaction ends; returns
 * the transaction's now().
 */
export async function lockWorkflowSaves(tx: pg.PoolClient, appId: string): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock($1, $2::int)', [
    SAVE_LOCK,
    Number(BigInt(appId) % 2_147_483_647n),
  ]);
  const { rows } = await tx.query<{ now: Date }>('SELECT now()');
  return rows[0]?.now.getTime() ?? Date.now();
}

export async function insertWorkflow(
  db: pg.Pool,
  app: AppRef,
  body: WorkflowSpecBody,
): Promise<WorkflowRow> {
  return inTransaction(db, async (tx) => {
    const now = await lockWorkflowSaves(tx, app.id);
    const saving: Saving = { appId: app.id, appName: app.name, name: body.name };
    const spec = await validateWorkflow(tx, saving, { ...body, enabled: body.enabled ?? true });
    const { rows } = await tx.query<RawWorkflow>(
      `INSERT INTO workflows (app_id, name, spec, time_expression_type, enabled, next_trigger_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (app_id, name) DO NOTHING RETURNING ${COLUMNS}`,
      [app.id, spec.name, spec, spec.schedule.type, spec.enabled, firstWorkflowTrigger(spec, now)],
    );
    if (!rows[0]) throw new WorkflowNameTakenError(spec.name);
    return toWorkflow(rows[0]);
  });
}

/**
 * Replaces a workflow's spec (runs keep the DAG they started with); null when
 * there is none. A body without `enabled` keeps the stored value.
 */
export async function replaceWorkflow(
  db: pg.Pool,
  app: AppRef,
  id: string,
  body: WorkflowSpecBody,
): Promise<WorkflowRow | null> {
  try {
    return await inTransaction(db, async (tx) => {
      const now = await lockWorkflowSaves(tx, app.id);
      const { rows: found } = await tx.query<{ enabled: boolean }>(
        'SELECT enabled FROM workflows WHERE app_id = $1 AND id = $2 FOR UPDATE',
        [app.id, id],
      );
      const stored = found[0];
      if (!stored) return null;
      const spec = await validateWorkflow(
        tx,
        { appId: app.id, appName: app.name, id, name: body.name },
        { ...body, enabled: body.enabled ?? stored.enabled },
      );
      const { rows } = await tx.query<RawWorkflow>(
        `UPDATE workflows SET name = $3, spec = $4, time_expression_type = $5, enabled = $6,
           next_trigger_at = $7, updated_at = now()
         WHERE app_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [
          app.id,
          id,
          spec.name,
          spec,
          spec.schedule.type,
          spec.enabled,
          firstWorkflowTrigger(spec, now),
        ],
      );
      return rows[0] ? toWorkflow(rows[0]) : null;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new WorkflowNameTakenError(body.name);
    throw err;
  }
}

/** Enables or disables a workflow: a disabled one never fires on its schedule. */
export async function setWorkflowEnabled(
  db: pg.Pool,
  appId: string,
  id: string,
  enabled: boolean,
): Promise<WorkflowRow | null> {
  return inTransaction(db, async (tx) => {
    const { rows: found } = await tx.query<RawWorkflow & { now: Date }>(
      `SELECT ${COLUMNS}, now() FROM workflows WHERE app_id = $1 AND id = $2 FOR UPDATE`,
      [appId, id],
    );
    const row = found[0];
    if (!row) return null;
    const spec = { ...row.spec, enabled };
    const { rows } = await tx.query<RawWorkflow>(
      `UPDATE workflows SET spec = $3, enabled = $4, next_trigger_at = $5, updated_at = now()
       WHERE app_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [appId, id, spec, enabled, firstWorkflowTrigger(spec, row.now.getTime())],
    );
    return rows[0] ? toWorkflow(rows[0]) : null;
  });
}

export async function getWorkflow(
  db: Queryable,
  appId: string,
  id: string,
): Promise<WorkflowRow | null> {
  const { rows } = await db.query<RawWorkflow>(
    `SELECT ${COLUMNS} FROM workflows WHERE app_id = $1 AND id = $2`,
    [appId, id],
  );
  return rows[0] ? toWorkflow(rows[0]) : null;
}

export async function listWorkflows(
  db: Queryable,
  appId: string,
  page: { afterId?: string; limit: number },
): Promise<WorkflowRow[]> {
  const { rows } = await db.query<RawWorkflow>(
    `SELECT ${COLUMNS} FROM workflows WHERE app_id = $1 AND ($2::bigint IS NULL OR id > $2)
     ORDER BY id LIMIT $3`,
    [appId, page.afterId ?? null, page.limit],
  );
  return rows.map(toWorkflow);
}

/**
 * Deletes a workflow and its finished runs; false when there is none.
 * Refused (WorkflowInUseError) while it has unfinished runs or another
 * workflow nests it.
 */
export async function deleteWorkflow(db: pg.Pool, appId: string, id: string): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    await lockWorkflowSaves(tx, appId);
    const { rows } = await tx.query<{ name: string }>(
      'SELECT name FROM workflows WHERE app_id = $1 AND id = $2 FOR UPDATE',
      [appId, id],
    );
    const name = rows[0]?.name;
    if (name === undefined) return false;
    const nesting = await tx.query<{ name: string }>(
      `SELECT name FROM workflows WHERE app_id = $1 AND id <> $2 AND spec->'nodes' @> $3::jsonb
       ORDER BY id LIMIT 5`,
      [appId, id, JSON.stringify([{ workflowId: id }])],
    );
    if (nesting.rows.length)
      throw new WorkflowInUseError(
        `workflow "${name}" is nested by ${nesting.rows.map((r) => `"${r.name}"`).join(', ')}: change those first`,
      );
    const running = await tx.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM workflow_runs
       WHERE workflow_id = $1 AND status IN ('WAITING', 'RUNNING')`,
      [id],
    );
    const count = running.rows[0]?.count ?? 0;
    if (count)
      throw new WorkflowInUseError(
        `workflow "${name}" has ${count} unfinished run(s): stop them first`,
      );
    await tx.query('DELETE FROM workflows WHERE app_id = $1 AND id = $2', [appId, id]);
    return true;
  });
}
