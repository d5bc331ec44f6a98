import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// CRON workflows are claimed like CRON jobs, by any server: each slot starts
// one run, however many servers scan.

const db = useDatabase();
const servers: DroverServer[] = [];
let app: TestApp;
let sql: pg.Client;
let base: string;

beforeAll(async () => {
  servers.push(await startTestServer(db.url), await startTestServer(db.url));
  await Promise.all(servers.map((s) => s.ready));
  app = await createTestApp(servers[0] as DroverServer, uniqueName('app'));
  base = `/api/v1/apps/${app.name}`;
  const job = await app.api.post(`${base}/jobs`, {
    name: 'step',
    processorName: 'noop',
    timeExpressionType: 'WORKFLOW',
  });
  expect(job.status).toBe(201);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(async () => {
  await sql.end();
  await Promise.all(servers.map((s) => s.stop()));
});

async function runsOf(workflowId: string): Promise<{ at: number; runs: number }[]> {
  const { rows } = await sql.query<{ at: Date; runs: number }>(
    `SELECT expected_trigger_at AS at, count(*)::int AS runs FROM workflow_runs
     WHERE workflow_id = $1 GROUP BY expected_trigger_at ORDER BY expected_trigger_at`,
    [workflowId],
  );
  return rows.map((r) => ({ at: r.at.getTime(), runs: r.runs }));
}

const everySecond = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  schedule: { type: 'CRON', expression: '* * * * * *' },
  maxConcurrentRuns: 0,
  nodes: [{ id: 'only', kind: 'job', job: 'step' }],
  ...extra,
});

describe('CRON workflows', () => {
  it('an every-second workflow fires once per slot with two servers scanning', async () => {
    const created = await app.api.post(`${base}/workflows`, everySecond(uniqueName('tick')));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id: string = created.body.id;
    await expect
      .poll(async () => (await runsOf(id)).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(6);
    await app.api.post(`${base}/workflows/${id}/disable`);

    const slots = await runsOf(id);
    expect(slots.every((s) => s.runs === 1)).toBe(true); // no slot twice
    const gaps = slots.slice(1).map((s, i) => s.at - (slots[i] as { at: number }).at);
    expect(gaps.every((g) => g === 1_000)).toBe(true); // no slot missed
    expect(slots.every((s) => s.at % 1_000 === 0)).toBe(true);
    const { rows } = await sql.query<{ trigger_type: string }>(
      'SELECT DISTINCT trigger_type FROM workflow_runs WHERE workflow_id = $1',
      [id],
    );
    expect(rows).toEqual([{ trigger_type: 'CRON' }]);
  });

  it('a disabled workflow, and one outside its lifecycle window, does not fire', async () => {
    const off = await app.api.post(
      `${base}/workflows`,
      everySecond(uniqueName('off'), { enabled: false }),
    );
    const later = await app.api.post(
      `${base}/workflows`,
      everySecond(uniqueName('later'), { lifecycle: { start: Date.now() + 3_600_000 } }),
    );
    const on = await app.api.post(`${base}/workflows`, everySecond(uniqueName('on')));
    // Once the enabled one has fired twice, the others have had their chance.
    await expect
      .poll(async () => (await runsOf(on.body.id)).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    await app.api.post(`${base}/workflows/${on.body.id}/disable`);
    expect(await runsOf(off.body.id)).toEqual([]);
    expect(await runsOf(later.body.id)).toEqual([]);
  });
});
