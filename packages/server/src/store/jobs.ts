import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent, nextTrigger, type Schedule } from '../jobs/time-expression.js';

export interface JobRow {
  id: string;
  appId: string;
  spec: JobSpec;
  enabled: boolean;
  nextTriggerAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface RawJob {
  id: string;
  app_id: string;
  spec: JobSpec;
  enabled: boolean;
  next_trigger_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, app_id, spec, enabled, next_trigger_at, created_at, updated_at';

function toJob(r: RawJob): JobRow {
  return {
    id: r.id,
    appId: r.app_id,
    spec: r.spec,
    enabled: r.enabled,
    nextTriggerAt: r.next_trigger_at?.getTime() ?? null,
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
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

/** When the scheduler should first look at a job: its next slot, or now for frequent jobs. */
export function firstTriggerAt(spec: JobSpec, nowMs: number): Date | null {
  if (!spec.enabled) return null;
  if (isFrequent(spec.timeExpressionType)) return new Date(nowMs);
  const next = nextTrigger(scheduleOf(spec, nowMs), nowMs);
  return next === null ? null : new Date(next);
}

export class JobNameTakenError extends Error {
  constructor(name: string) {
    super(`a job named "${name}" already exists in this app`);
  }
}

/** `nowMs` is the database's time now (see DbClock): slots are database times. */
export async function insertJob(
  db: pg.Pool,
  appId: string,
  spec: JobSpec,
  nowMs: number,
): Promise<JobRow> {
  const { rows } = await db.query<RawJob>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type, enabled, next_trigger_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (app_id, name) DO NOTHING RETURNING ${COLUMNS}`,
    [appId, spec.name, spec, spec.timeExpressionType, spec.enabled, firstTriggerAt(spec, nowMs)],
  );
  if (!rows[0]) throw new JobNameTakenError(spec.name);
  return toJob(rows[0]);
}

/** Replaces a job's options; null when there is no such job in the app. */
export async function replaceJob(
  db: pg.Pool,
  appId: string,
  id: string,
  spec: JobSpec,
  nowMs: number,
): Promise<JobRow | null> {
  try {
    const { rows } = await db.query<RawJob>(
      `UPDATE jobs SET name = $3, spec = $4, time_expression_type = $5, enabled = $6,
         next_trigger_at = $7, updated_at = now()
       WHERE app_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [
        appId,
        id,
        spec.name,
        spec,
        spec.timeExpressionType,
        spec.enabled,
        firstTriggerAt(spec, nowMs),
      ],
    );
    return rows[0] ? toJob(rows[0]) : null;
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
  nowMs: number,
): Promise<JobRow | null> {
  const job = await getJob(db, appId, id);
  if (!job) return null;
  const spec = { ...job.spec, enabled };
  return replaceJob(db, appId, id, spec, nowMs);
}

export async function getJob(db: Queryable, appId: string, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<RawJob>(
    `SELECT ${COLUMNS} FROM jobs WHERE app_id = $1 AND id = $2`,
    [appId, id],
  );
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

export async function deleteJob(db: pg.Pool, appId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM jobs WHERE app_id = $1 AND id = $2', [
    appId,
    id,
  ]);
  return (rowCount ?? 0) > 0;
}
