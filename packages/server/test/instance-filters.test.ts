import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { LIST_INSTANCES_SQL } from '../src/store/instances.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// GET /apps/{app}/instances by worker and by creation time (the console's
// Workers page and its runs filter), on rows written straight into the table.

const db = useDatabase();
let server: DroverServer;
let pool: pg.Pool;
let app: TestApp;
let ids: { appId: string; jobId: string };
const T0 = Date.UTC(2026, 0, 1);

/** A run created at `createdAt` (ms) on `workerId`; its id. */
async function insertRun(createdAt: number, workerId: string | null): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, worker_id, created_at)
     VALUES ($1, $2, 'RUNNING', 'API', $3, to_timestamp($4 / 1000.0)) RETURNING id`,
    [ids.appId, ids.jobId, workerId, createdAt],
  );
  return rows[0]?.id as string;
}

let runs: string[];

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  app = await createTestApp(server, uniqueName('app'));
  const { rows } = await pool.query<{ app_id: string; id: string }>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type)
     SELECT id, 'j', '{}', 'API' FROM apps WHERE name = $1 RETURNING app_id, id`,
    [app.name],
  );
  ids = { appId: rows[0]?.app_id as string, jobId: rows[0]?.id as string };
  runs = [];
  for (const [i, worker] of ['w1', 'w2', 'w1', null, 'w1'].entries())
    runs.push(await insertRun(T0 + i * 60_000, worker));
});
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

const list = (query: string) => app.api.get(`/api/v1/apps/${app.name}/instances?${query}`);
const idsIn = (body: { instances: { id: string }[] }) => body.instances.map((i) => i.id);

describe('GET /api/v1/apps/{app}/instances filters', () => {
  it('narrows to one worker', async () => {
    const res = await list('workerId=w1');
    expect(res.status).toBe(200);
    expect(idsIn(res.body)).toEqual([runs[4], runs[2], runs[0]]);
    expect(idsIn((await list('workerId=nobody')).body)).toEqual([]);
  });

  it('narrows to a creation time range: from inclusive, to exclusive', async () => {
    const res = await list(`createdAfter=${T0 + 60_000}&createdBefore=${T0 + 3 * 60_000}`);
    expect(res.status).toBe(200);
    expect(idsIn(res.body)).toEqual([runs[2], runs[1]]);
    expect(idsIn((await list(`createdAfter=${T0 + 4 * 60_000}`)).body)).toEqual([runs[4]]);
    expect(idsIn((await list(`createdBefore=${T0 + 1}`)).body)).toEqual([runs[0]]);
    // With the others and paging.
    const paged = await list(`workerId=w1&createdAfter=${T0}&limit=2`);
    expect(idsIn(paged.body)).toEqual([runs[4], runs[2]]);
    expect(idsIn((await list(`workerId=w1&before=${paged.body.next}`)).body)).toEqual([runs[0]]);
  });

  it.each([
    ['createdAfter=yesterday', 'query.createdAfter'],
    ['createdBefore=-5', 'query.createdBefore'],
    ['createdAfter=1.5', 'query.createdAfter'],
    ['workerId=', 'query.workerId'],
  ])('refuses %s naming %s', async (query, path) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual([path]);
  });

  it('walks an index over ~100k rows, not the table', async () => {
    await pool.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, worker_id, created_at)
       SELECT $1, $2, 'SUCCEEDED', 'API', 'w' || (g % 10), now() - make_interval(secs => g)
       FROM generate_series(1, 100000) g`,
      [ids.appId, ids.jobId],
    );
    await pool.query('ANALYZE instances');
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${LIST_INSTANCES_SQL}`, [
      ids.appId,
      null,
      null,
      null,
      50,
      'w3',
      Date.now() - 3_600_000,
      Date.now(),
    ]);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    // Newest first by id (the primary key or instances_by_app), stopping at the limit.
    expect(plan).toMatch(
      /Index Scan Backward using (instances_pkey|instances_by_app|instances_by_job) on instances/,
    );
    expect(plan).not.toContain('Seq Scan');
  });
});
