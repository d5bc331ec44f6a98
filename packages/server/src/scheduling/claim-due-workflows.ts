import type pg from 'pg';
import { nextTrigger, type Schedule } from '../jobs/time-expression.js';
import { type WorkflowRow, workflowSchedule } from '../workflows/store/workflows.js';
import { startWorkflowRun } from '../workflows/workflow-engine.js';
import type { WorkflowSpec } from '../workflows/workflow-spec.js';
import { slotsToFire } from './claim-due-jobs.js';

// CRON workflows fire like CRON jobs (same slots, same misfire rule), with
// one difference: a run starts at once (there is no dispatch time to wait
// for), so only slots already due are claimed. A slot is fired once whoever
// claims it: the run row is unique per (workflow, expected_trigger_at).

// Advisory lock class of a workflow's claim (the key is its id); see below.
const CLAIM_LOCK = 16;

interface DueWorkflow {
  id: string;
  app_id: string;
  app_name: string;
  name: string;
  spec: WorkflowSpec;
  enabled: boolean;
  next_trigger_at: Date;
  created_at: Date;
  updated_at: Date;
  /** updated_at to the microsecond (a Date keeps milliseconds: it would never match). */
  edited_stamp: string;
}

/**
 * One claim round for workflows. The workflow is held by a transaction-scoped
 * advisory lock (other servers skip it), not its row lock: starting a run
 * locks the row in its own transaction (maxConcurrentRuns). Runs start before
 * next_trigger_at moves on, so a crash in between loses no slot; the next
 * claim finds the runs already there and starts after the latest of them.
 * Answers the number of runs started.
 */
export async function claimDueWorkflows(
  client: pg.PoolClient,
  pool: pg.Pool,
  batch = 100,
): Promise<number> {
  await client.query('BEGIN');
  try {
    const now =
      (await client.query<{ now: Date }>('SELECT now()')).rows[0]?.now.getTime() ?? Date.now();
    const { rows: due } = await client.query<DueWorkflow>(
      `SELECT w.id, w.app_id, a.name AS app_name, w.name, w.spec, w.enabled, w.next_trigger_at,
              w.created_at, w.updated_at, w.updated_at::text AS edited_stamp
       FROM workflows w JOIN apps a ON a.id = w.app_id
       WHERE w.enabled AND w.next_trigger_at <= $1 ORDER BY w.next_trigger_at, w.id LIMIT $2`,
      [new Date(now), batch],
    );
    let started = 0;
    for (const w of due) {
      const { rows } = await client.query<{ mine: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1, $2::int) AS mine',
        [CLAIM_LOCK, Number(BigInt(w.id) % 2_147_483_647n)],
      );
      if (!rows[0]?.mine) continue;
      const schedule = workflowSchedule(w.spec);
      const first = await firstUnfiredSlot(client, w.id, schedule, w.next_trigger_at.getTime());
      const fire =
        first === null ? { slots: [], next: null } : slotsToFire(schedule, first, now, now);
      const workflow: WorkflowRow = {
        id: w.id,
        appId: w.app_id,
        name: w.name,
        spec: w.spec,
        enabled: w.enabled,
        nextTriggerAt: w.next_trigger_at.getTime(),
        createdAt: w.created_at.getTime(),
        updatedAt: w.updated_at.getTime(),
      };
      for (const at of fire.slots) {
        const { created } = await startWorkflowRun(pool, {
          app: { id: w.app_id, name: w.app_name },
          workflow,
          triggerType: 'CRON',
          expectedTriggerAt: new Date(at),
        });
        if (created) started++;
      }
      // Unless the workflow was edited meanwhile (the edit set its own next time).
      await client.query(
        `UPDATE workflows SET next_trigger_at = $2 WHERE id = $1 AND updated_at = $3::timestamptz`,
        [w.id, fire.next === null ? null : new Date(fire.next), w.edited_stamp],
      );
    }
    await client.query('COMMIT');
    return started;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The first slot to fire: `next_trigger_at`, unless a crash between starting
 * runs and moving `next_trigger_at` left it on a slot already run. Then the
 * slot after the latest run: otherwise slots missed in an outage that followed
 * would collapse into that slot's existing run and get no catch-up run.
 * Null when the schedule has no slot after it.
 */
async function firstUnfiredSlot(
  client: pg.PoolClient,
  workflowId: string,
  schedule: Schedule,
  nextTriggerAt: number,
): Promise<number | null> {
  const { rows } = await client.query<{ at: Date | null }>(
    'SELECT max(expected_trigger_at) AS at FROM workflow_runs WHERE workflow_id = $1',
    [workflowId],
  );
  const latest = rows[0]?.at?.getTime();
  if (latest === undefined || latest < nextTriggerAt) return nextTriggerAt;
  return nextTrigger(schedule, latest);
}

/** Ms until the next CRON workflow slot within `withinMs`, or null (the scheduler wakes for it). */
export async function nextWorkflowSlotIn(db: pg.Pool, withinMs: number): Promise<number | null> {
  const { rows } = await db.query<{ due_in: number | null }>(
    `SELECT (extract(epoch FROM min(next_trigger_at) - now()) * 1000)::float8 AS due_in
     FROM workflows WHERE enabled AND next_trigger_at <= now() + make_interval(secs => $1 / 1000.0)`,
    [withinMs],
  );
  return rows[0]?.due_in ?? null;
}
