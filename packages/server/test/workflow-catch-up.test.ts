import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { claimDueWorkflows } from '../src/scheduling/claim-due-workflows.js';
import { createTestApp, startTestServer } from './support/server-fixture.js';

// A CRON workflow's claim starts its runs before it moves next_trigger_at (in
// separate transactions). A crash in between leaves next_trigger_at on a slot
// already run; if an outage follows, the slots it missed still get their one
// catch-up run (before, the catch-up fell on that existing run and was lost).

const db = useDatabase();
let pool: pg.Pool;
let workflowId: string;

beforeAll(async () => {
  // The server only creates the app and the workflow: the test claims by hand.
  const server = await startTestServer(db.url);
  await server.ready;
  const app = await createTestApp(server, uniqueName('app'));
  const base = `/api/v1/apps/${app.name}`;
  const job = await app.api.post(`${base}/jobs`, {
    name: 'step',
    processorName: 'noop',
    timeExpressionType: 'WORKFLOW',
  });
  expect(job.status).toBe(201);
  const created = await app.api.post(`${base}/workflows`, {
    name: uniqueName('tick'),
    enabled: false,
    schedule: { type: 'CRON', expression: '* * * * * *' },
    nodes: [{ id: 'only', kind: 'job', job: 'step' }],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  workflowId = created.body.id;
  await server.stop();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await pool.end();
});

async function claim(): Promise<number> {
  const client = await pool.connect();
  try {
    return await claimDueWorkflows(client, pool);
  } finally {
    client.release();
  }
}

async function slots(): Promise<number[]> {
  const { rows } = await pool.query<{ at: Date }>(
    `SELECT expected_trigger_at AS at FROM workflow_runs WHERE workflow_id = $1
     ORDER BY expected_trigger_at`,
    [workflowId],
  );
  return rows.map((r) => r.at.getTime());
}

describe('CRON workflow catch-up after a crash inside a claim', () => {
  it('gives the slots missed after the crash one catch-up run', async () => {
    // Due since two minutes ago: the first claim runs the catch-up and the last 5 s of slots.
    await pool.query(
      `UPDATE workflows SET enabled = true,
         next_trigger_at = date_trunc('second', now()) - interval '120 seconds' WHERE id = $1`,
      [workflowId],
    );
    expect(await claim()).toBeGreaterThan(1);
    // The crash: its runs started, its move of next_trigger_at lost. Then an
    // outage of a minute: every time written so far moves a minute back.
    await pool.query(
      `UPDATE workflow_runs SET expected_trigger_at = expected_trigger_at - interval '60 seconds'
       WHERE workflow_id = $1`,
      [workflowId],
    );
    const before = await slots();
    await pool.query(`UPDATE workflows SET next_trigger_at = $2 WHERE id = $1`, [
      workflowId,
      new Date(before[0] as number),
    ]);
    const lastBeforeCrash = before.at(-1) as number;

    await claim();
    const { rows } = await pool.query<{ now: Date }>('SELECT now()');
    const now = (rows[0] as { now: Date }).now.getTime();
    const after = await slots();
    // Exactly one run for the slots between the crash and the misfire window: the first missed one.
    const missed = after.filter((at) => at > lastBeforeCrash && at < now - 5_000);
    expect(missed).toEqual([lastBeforeCrash + 1_000]);
    // No slot twice, and the slots of the last 5 s ran as usual.
    expect(new Set(after).size).toBe(after.length);
    const recent = after.filter((at) => at > lastBeforeCrash + 1_000);
    expect(recent.length).toBeGreaterThanOrEqual(4);
    expect(recent.slice(1).map((at, i) => at - (recent[i] as number))).toEqual(
      recent.slice(1).map(() => 1_000),
    );
  });
});
