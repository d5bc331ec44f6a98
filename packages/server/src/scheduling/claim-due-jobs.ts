import type pg from 'pg';
import type { JobSpec } from '../jobs/job-spec.js';
import { isFrequent, nextTrigger, type Schedule } from '../jobs/time-expression.js';
import { FINAL_SQL } from '../store/instance-row.js';
import { scheduleOf } from '../store/jobs.js';

// Slots older than this when claimed were missed (servers down): the first
// missed one runs as the catch-up, the rest are skipped up to this window's
// start, so a long outage does not fire a burst.
const MISFIRE_MS = 5_000;
const MAX_SLOTS_PER_JOB = 200;
// A frequent job is checked this often for a live instance.
const FREQUENT_RECHECK_MS = 5_000;

interface DueJob {
  id: string;
  app_id: string;
  spec: JobSpec;
  next_trigger_at: Date;
  /** What a ONE_SHOT delay counts from (stable across edits that keep its time expression). */
  anchor_at: Date;
}

/**
 * Slots from `first` up to `until` (of a job or a CRON workflow). Slots missed by more than MISFIRE_MS
 * (servers down) collapse into one catch-up run at the first missed slot
 * (its `expected_trigger_at`), then the slots of the last MISFIRE_MS run as
 * usual, so an outage does not end in a burst.
 */
export function slotsToFire(schedule: Schedule, first: number, until: number, now: number) {
  const slots: number[] = [];
  let at: number | null = first;
  if (first < now - MISFIRE_MS) {
    slots.push(first);
    at = nextTrigger(schedule, now - MISFIRE_MS);
  }
  while (at !== null && at <= until && slots.length < MAX_SLOTS_PER_JOB) {
    slots.push(at);
    at = nextTrigger(schedule, at);
  }
  return { slots, next: at };
}

/**
 * One claim round, in one transaction: locks due jobs other servers are not
 * holding (SKIP LOCKED), inserts an instance per slot in the look-ahead window
 * (ON CONFLICT DO NOTHING: a slot is fired once, whoever claims it), and moves
 * each job's next_trigger_at past the window.
 */
export async function claimDueJobs(
  client: pg.PoolClient,
  lookaheadMs: number,
  batch = 200,
  /** Told, once committed, of the jobs of the runs created (metrics). */
  onCreated: (jobIds: string[]) => void = () => {},
): Promise<number> {
  await client.query('BEGIN');
  try {
    const now =
      (await client.query<{ now: Date }>('SELECT now()')).rows[0]?.now.getTime() ?? Date.now();
    const { rows } = await client.query<DueJob>(
      `SELECT id, app_id, spec, next_trigger_at, anchor_at FROM jobs
       WHERE enabled AND next_trigger_at <= $1 ORDER BY next_trigger_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [new Date(now + lookaheadMs), batch],
    );
    // Collect every job's slots, then write them with one INSERT and one UPDATE:
    // a round costs the same few round trips for ten jobs or ten thousand.
    const slots: { appId: string; jobId: string; type: string; at: Date }[] = [];
    const nextAt: { jobId: string; at: Date | null }[] = [];
    const frequent: DueJob[] = [];
    for (const job of rows) {
      if (isFrequent(job.spec.timeExpressionType)) {
        frequent.push(job);
        nextAt.push({ jobId: job.id, at: new Date(now + FREQUENT_RECHECK_MS) });
        continue;
      }
      const fire = slotsToFire(
        scheduleOf(job.spec, job.anchor_at.getTime()),
        job.next_trigger_at.getTime(),
        now + lookaheadMs,
        now,
      );
      for (const at of fire.slots)
        slots.push({
          appId: job.app_id,
          jobId: job.id,
          type: job.spec.timeExpressionType,
          at: new Date(at),
        });
      nextAt.push({ jobId: job.id, at: fire.next === null ? null : new Date(fire.next) });
    }
    let created = 0;
    const createdJobs: string[] = [];
    if (slots.length) {
      const inserted = await client.query<{ job_id: string }>(
        `INSERT INTO instances (app_id, job_id, status, trigger_type, expected_trigger_at, next_dispatch_at, due_at)
         SELECT s.app_id, s.job_id, 'WAITING_DISPATCH', s.type, s.at, s.at, s.at
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[]) AS s(app_id, job_id, type, at)
         ON CONFLICT (job_id, expected_trigger_at) DO NOTHING RETURNING job_id`,
        [
          slots.map((s) => s.appId),
          slots.map((s) => s.jobId),
          slots.map((s) => s.type),
          slots.map((s) => s.at),
        ],
      );
      created += inserted.rowCount ?? 0;
      for (const row of inserted.rows) createdJobs.push(row.job_id);
    }
    if (frequent.length) {
      // A frequent job has one live run at a time: start one where none is unfinished.
      const inserted = await client.query<{ job_id: string }>(
        `INSERT INTO instances (app_id, job_id, status, trigger_type, expected_trigger_at, next_dispatch_at, due_at)
         SELECT f.app_id, f.job_id, 'WAITING_DISPATCH', f.type, $4, $4, $4
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS f(app_id, job_id, type)
         WHERE NOT EXISTS (SELECT 1 FROM instances WHERE job_id = f.job_id AND status NOT IN ${FINAL_SQL})
         ON CONFLICT DO NOTHING RETURNING job_id`,
        [
          frequent.map((j) => j.app_id),
          frequent.map((j) => j.id),
          frequent.map((j) => j.spec.timeExpressionType),
          new Date(now),
        ],
      );
      created += inserted.rowCount ?? 0;
      for (const row of inserted.rows) createdJobs.push(row.job_id);
    }
    if (nextAt.length) {
      await client.query(
        `UPDATE jobs SET next_trigger_at = n.at FROM unnest($1::bigint[], $2::timestamptz[]) AS n(id, at) WHERE jobs.id = n.id`,
        [nextAt.map((n) => n.jobId), nextAt.map((n) => n.at)],
      );
    }
    await client.query('COMMIT');
    if (createdJobs.length) onCreated(createdJobs);
    return created;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
