import type pg from 'pg';
import { inTransaction, type Queryable } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import {
  isFrequent,
  isSlotScheduled,
  nextTrigger,
  type Schedule,
} from '../jobs/time-expression.js';
import { lockWorkflowSaves } from '../workflows/store/workflows.js';

export interface JobRow {
  id: string;
  appId: string;
  spec: JobSpec;
  enabled: boolean;
  nextTriggerAt: number | null;
  /** What a ONE_SHOT delay counts from: creation, or the last change of its time expression. */
  anchorAt: number;
  createdAt: number;
  updatedAt: number;
  /** Bumped by every edit (bigint as a string): a run added from a copy of the job names it. */
  version: string;
}

interface RawJob {
  id: string;
  app_id: string;
  spec: JobSpec;
  enabled: boolean;
  next_trigger_at: Date | null;
  anchor_at: Date;
  created_at: Date;
  updated_at: Date;
  version: string;
}

const COLUMNS =
  'id, app_id, spec, enabled, next_trigger_at, anchor_at, created_at, updated_at, version';

function toJob(r: RawJob): JobRow {
  return {
    id: r.id,
    appId: r.app_id,
    spec: r.spec,
    enabled: r.enabled,
    nextTriggerAt: r.next_trigger_at?.getTime() ?? null,
    anchorAt: r.anchor_at.getTime(),
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
    version: r.version,
  };
}

export function scheduleOf(spec: JobSpec, anchorMs: number): Schedule {
  return {
    timeExpressionType: spec.timeExpressionType,
    timeExpression: spec.timeExpression,
    timeZone: spec.timeZone,
    lifecycle: spec.lifecycle,
    anchorMs,
  };
}

/**
 * When the scheduler should first look at a job: its next slot, or now for
 * frequent jobs. A ONE_SHOT's one slot is `anchorMs` + its delay (or its ISO
 * time); once that has passed there is none, so it never fires again.
 */
export function firstTriggerAt(spec: JobSpec, nowMs: number, anchorMs = nowMs): Date | null {
  if (!spec.enabled) return null;
  if (isFrequent(spec.timeExpressionType)) return new Date(nowMs);
  const next = nextTrigger(scheduleOf(spec, anchorMs), nowMs);
  return next === null ? null : new Date(next);
}

/** Whether an edit keeps the job's schedule, so a ONE_SHOT keeps its anchor (and its one slot). */
function sameSchedule(before: JobSpec, after: JobSpec): boolean {
  return (
    before.timeExpressionType === after.timeExpressionType &&
    before.timeExpression === after.timeExpression
  );
}

function sameLifecycle(before: JobSpec, after: JobSpec): boolean {
  return (
    before.lifecycle?.start === after.lifecycle?.start &&
    before.lifecycle?.end === after.lifecycle?.end
  );
}

/** The database clock: the scheduler claims slots by it, so anchors are taken from it too. */
async function databaseNow(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ now: Date }>('SELECT now()');
  return rows[0]?.now.getTime() ?? Date.now();
}

/** An enabled CRON or ONE_SHOT job whose schedule has no time to come: it would never fire. */
export class JobNeverFiresError extends Error {
  override name = 'JobNeverFiresError';
  constructor(
    /** The spec's field to change, e.g. `timeExpression`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Refuses a schedule, newly set and enabled, with no slot still to come: a
 * ONE_SHOT time that has passed, a CRON pattern whose last time is behind
 * it, a lifecycle that ended. Saved, it would sit enabled and never run.
 */
function checkFiresAgain(spec: JobSpec, nowMs: number, anchorMs: number): void {
  if (!spec.enabled || !isSlotScheduled(spec.timeExpressionType)) return;
  if (firstTriggerAt(spec, nowMs, anchorMs) !== null) return;
  const end = spec.lifecycle?.end;
  if (end !== undefined && new Date(end).getTime() <= nowMs)
    throw new JobNeverFiresError(
      'lifecycle.end',
      'the job would never fire: its lifecycle has ended',
    );
  // Its time is still to come, outside the window (a ONE_SHOT before its start or after its end).
  const unbounded = firstTriggerAt({ ...spec, lifecycle: undefined }, nowMs, anchorMs);
  if (unbounded !== null) {
    const afterEnd = end !== undefined && unbounded.getTime() >= new Date(end).getTime();
    throw new JobNeverFiresError(
      afterEnd ? 'lifecycle.end' : 'lifecycle.start',
      `the job would never fire: its time (${unbounded.toISOString()}) is outside its lifecycle`,
    );
  }
  const now = new Date(nowMs).toISOString();
  throw new JobNeverFiresError(
    'timeExpression',
    spec.timeExpressionType === 'ONE_SHOT'
      ? `the job would never fire: its one time has passed (the server's clock says ${now}); give a time still to come`
      : `the job would never fire: the pattern has no time after ${now}${spec.lifecycle ? ' within its lifecycle' : ''}`,
  );
}

export class JobNameTakenError extends Error {
  constructor(name: string) {
    super(`a job named "${name}" already exists in this app`);
  }
}

export async function insertJob(db: pg.Pool, appId: string, spec: JobSpec): Promise<JobRow> {
  const now = await databaseNow(db);
  checkFiresAgain(spec, now, now);
  const { rows } = await db.query<RawJob>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type, enabled, next_trigger_at, anchor_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (app_id, name) DO NOTHING RETURNING ${COLUMNS}`,
    [
      appId,
      spec.name,
      spec,
      spec.timeExpressionType,
      spec.enabled,
      firstTriggerAt(spec, now),
      new Date(now),
    ],
  );
  if (!rows[0]) throw new JobNameTakenError(spec.name);
  return toJob(rows[0]);
}

/**
 * Replaces a job's options; null when there is no such job in the app. The
 * anchor moves only when the time expression changes: editing or re-enabling
 * a ONE_SHOT that fired leaves it with no slot, and one not yet fired keeps
 * its slot (a slot already claimed is not inserted twice).
 */
export async function replaceJob(
  db: pg.Pool,
  appId: string,
  id: string,
  spec: JobSpec,
): Promise<JobRow | null> {
  try {
    return await inTransaction(db, async (tx) => {
      const before = await tx.query<{ spec: JobSpec; anchor_at: Date; now: Date }>(
        'SELECT spec, anchor_at, now() FROM jobs WHERE app_id = $1 AND id = $2 FOR UPDATE',
        [appId, id],
      );
      const old = before.rows[0];
      if (!old) return null;
      const now = old.now.getTime();
      const anchor = sameSchedule(old.spec, spec) ? old.anchor_at.getTime() : now;
      // A schedule kept may have fired its last (a ONE_SHOT edited or enabled again): not refused.
      if (!sameSchedule(old.spec, spec) || !sameLifecycle(old.spec, spec))
        checkFiresAgain(spec, now, anchor);
      const { rows } = await tx.query<RawJob>(
        `UPDATE jobs SET name = $3, spec = $4, time_expression_type = $5, enabled = $6,
           next_trigger_at = $7, anchor_at = $8, updated_at = now()
         WHERE app_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [
          appId,
          id,
          spec.name,
          spec,
          spec.timeExpressionType,
          spec.enabled,
          firstTriggerAt(spec, now, anchor),
          new Date(anchor),
        ],
      );
      return rows[0] ? toJob(rows[0]) : null;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new JobNameTakenError(spec.name);
    throw err;
  }
}

export async function setJobEnabled(
  db: pg.Pool,
  appId: string,
  id: string,
  enabled: boolean,
): Promise<JobRow | null> {
  const job = await getJob(db, appId, id);
  if (!job) return null;
  const spec = { ...job.spec, enabled };
  return replaceJob(db, appId, id, spec);
}

export async function getJob(db: Queryable, appId: string, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<RawJob>({
    // Named: prepared once per connection, not parsed and planned for every run added.
    name: 'drover.get-job',
    text: `SELECT ${COLUMNS} FROM jobs WHERE app_id = $1 AND id = $2`,
    values: [appId, id],
  });
  return rows[0] ? toJob(rows[0]) : null;
}

export async function listJobs(
  db: pg.Pool,
  appId: string,
  page: { afterId?: string; limit: number },
): Promise<JobRow[]> {
  const { rows } = await db.query<RawJob>(
    `SELECT ${COLUMNS} FROM jobs WHERE app_id = $1 AND ($2::bigint IS NULL OR id > $2)
     ORDER BY id LIMIT $3`,
    [appId, page.afterId ?? null, page.limit],
  );
  return rows.map(toJob);
}

/** A delete refused: a workflow's nodes, or an unfinished workflow run's, use the job. */
export class JobInUseError extends Error {}

/**
 * Why the job cannot be deleted: a workflow has a node running it, or an
 * unfinished workflow run does (its DAG is a copy), and deleting it would only
 * make those fail later. Null when nothing uses it (or there is no such job).
 */
export async function jobInUse(db: Queryable, appId: string, id: string): Promise<string | null> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT spec->>'name' AS name FROM jobs WHERE app_id = $1 AND id = $2`,
    [appId, id],
  );
  const name = rows[0]?.name;
  if (name === undefined) return null;
  const usedBy = JSON.stringify([{ jobId: id }]);
  const workflows = await db.query<{ name: string }>(
    `SELECT name FROM workflows WHERE app_id = $1 AND spec->'nodes' @> $2::jsonb
     ORDER BY id LIMIT 5`,
    [appId, usedBy],
  );
  if (workflows.rows.length)
    return `job "${name}" is used by workflow ${workflows.rows.map((r) => `"${r.name}"`).join(', ')}: remove it from those first`;
  const runs = await db.query<{ id: string }>(
    `SELECT id FROM workflow_runs WHERE app_id = $1 AND status IN ('WAITING', 'RUNNING')
       AND dag->'nodes' @> $2::jsonb ORDER BY id LIMIT 5`,
    [appId, usedBy],
  );
  if (runs.rows.length)
    return `job "${name}" is a node of unfinished workflow run ${runs.rows.map((r) => r.id).join(', ')}: stop them first`;
  return null;
}

/**
 * Deletes a job and its history; false when there is none. Refused
 * (JobInUseError, see jobInUse) under the app's workflow-save lock, so a
 * workflow save cannot pick the job up meanwhile.
 */
export async function deleteJob(db: pg.Pool, appId: string, id: string): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    await lockWorkflowSaves(tx, appId);
    const problem = await jobInUse(tx, appId, id);
    if (problem) throw new JobInUseError(problem);
    const { rowCount } = await tx.query('DELETE FROM jobs WHERE app_id = $1 AND id = $2', [
      appId,
      id,
    ]);
    return (rowCount ?? 0) > 0;
  });
}
