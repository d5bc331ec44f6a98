import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { FINISHED_PER_MINUTE_SQL, UNFINISHED_SQL } from '../src/store/run-stats.js';
import { ApiClient } from './support/api-client.js';
import {
  createTestApp,
  startTestServer,
  TEST_ADMIN_TOKEN,
  type TestApp,
} from './support/server-fixture.js';

// GET /apps/{app}/stats/runs: the console's runs-per-minute chart and its
// waiting/running figures, from rows written straight into the table (the
// times are the point here, not how runs get there).

const db = useDatabase();
let server: DroverServer;
let pool: pg.Pool;
let app: TestApp;
let other: TestApp;
let appId: string;

async function idsOf(name: string): Promise<{ appId: string; jobId: string }> {
  const { rows } = await pool.query<{ app_id: string; job_id: string }>(
    `WITH a AS (SELECT id FROM apps WHERE name = $1)
     INSERT INTO jobs (app_id, name, spec, time_expression_type)
     SELECT id, $2, '{}', 'API' FROM a RETURNING app_id, id AS job_id`,
    [name, uniqueName('job')],
  );
  const row = rows[0];
  if (!row) throw new Error(`no app ${name}`);
  return { appId: row.app_id, jobId: row.job_id };
}

/** `count` runs of a job with `status`, finished `minutesAgo` before the database's now (null: unfinished). */
async function insertRuns(
  q: pg.PoolClient,
  ids: { appId: string; jobId: string },
  count: number,
  status: string,
  minutesAgo: number | null,
): Promise<void> {
  // An unfinished run's finished_at: now() minus NULL is NULL.
  await q.query(
    `INSERT INTO instances (app_id, job_id, status, trigger_type, finished_at)
     SELECT $1, $2, $3, 'API', now() - make_interval(mins => $4::int)
     FROM generate_series(1, $5)`,
    [ids.appId, ids.jobId, status, minutesAgo, count],
  );
}

const minuteAgo = async (minutes: number): Promise<number> => {
  const { rows } = await pool.query<{ m: Date }>(
    `SELECT date_trunc('minute', now() - make_interval(mins => $1)) AS m`,
    [minutes],
  );
  const minute = rows[0]?.m;
  if (!minute) throw new Error('no minute');
  return minute.getTime();
};

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  app = await createTestApp(server, uniqueName('app'));
  other = await createTestApp(server, uniqueName('other'));
  const ids = await idsOf(app.name);
  appId = ids.appId;
  const others = await idsOf(other.name);
  // One transaction: now() is the same for every row, so none straddles a minute.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await insertRuns(client, ids, 3, 'SUCCEEDED', 0);
    await insertRuns(client, ids, 2, 'FAILED', 0);
    await insertRuns(client, ids, 1, 'STOPPED', 5);
    await insertRuns(client, ids, 4, 'SUCCEEDED', 120);
    await insertRuns(client, ids, 2, 'WAITING_DISPATCH', null);
    await insertRuns(client, ids, 1, 'WAITING_WORKER_RECEIVE', null);
    await insertRuns(client, ids, 1, 'RUNNING', null);
    // Another app's runs count for it only.
    await insertRuns(client, others, 7, 'SUCCEEDED', 0);
    await insertRuns(client, others, 7, 'RUNNING', null);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
});
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

describe('GET /api/v1/apps/{app}/stats/runs', () => {
  it('counts finished runs per minute and status over the last hour, and waiting and running now', async () => {
    const res = await app.api.get(`/api/v1/apps/${app.name}/stats/runs`);
    expect(res.status).toBe(200);
    // The rows were written moments ago: the minute may have turned since, then
    // "0 minutes ago" is 1 minute ago; both fall in the window.
    const now = await minuteAgo(0);
    const written = res.body.buckets.find((b: { status: string }) => b.status === 'SUCCEEDED')
      ?.minute as number;
    expect([now, now - 60_000]).toContain(written);
    expect(res.body).toEqual({
      minutes: 60,
      buckets: [
        { minute: written - 5 * 60_000, status: 'STOPPED', count: 1 },
        { minute: written, status: 'FAILED', count: 2 },
        { minute: written, status: 'SUCCEEDED', count: 3 },
      ],
      waiting: 3,
      running: 1,
    });
  });

  it('reaches back `minutes` (up to 1440)', async () => {
    const res = await app.api.get(`/api/v1/apps/${app.name}/stats/runs?minutes=180`);
    expect(res.status).toBe(200);
    expect(res.body.minutes).toBe(180);
    expect(res.body.buckets.map((b: { count: number }) => b.count)).toEqual([4, 1, 2, 3]);
    const one = await app.api.get(`/api/v1/apps/${app.name}/stats/runs?minutes=1440`);
    expect(one.status).toBe(200);
  });

  it.each(['0', '1441', 'ten', '1.5'])('refuses minutes=%s naming query.minutes', async (m) => {
    const res = await app.api.get(`/api/v1/apps/${app.name}/stats/runs?minutes=${m}`);
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['query.minutes']);
  });

  it("takes the admin token, refuses no token, a wrong one and another app's", async () => {
    const path = `/api/v1/apps/${app.name}/stats/runs`;
    expect((await new ApiClient(server.url, TEST_ADMIN_TOKEN).get(path)).status).toBe(200);
    expect((await new ApiClient(server.url).get(path)).status).toBe(401);
    expect((await app.api.withToken('not-the-secret-at-all').get(path)).status).toBe(401);
    expect((await other.api.get(path)).status).toBe(401);
  });

  it('reads indexes, not the table, over ~100k rows of history', async () => {
    const { rows } = await pool.query<{ job_id: string }>(
      'SELECT id AS job_id FROM jobs WHERE app_id = $1 LIMIT 1',
      [appId],
    );
    const jobId = rows[0]?.job_id as string;
    // A long history in both apps: a week of finished runs, a few unfinished.
    await pool.query(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, finished_at)
       SELECT $1, $2, 'SUCCEEDED', 'API', now() - make_interval(secs => g * 6)
       FROM generate_series(1, 100000) g`,
      [appId, jobId],
    );
    await pool.query('ANALYZE instances');
    const plan = async (sql: string, params: unknown[]) => {
      const res = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return res.rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const finished = await plan(FINISHED_PER_MINUTE_SQL, [appId, 60]);
    expect(finished).toMatch(
      /Index (Only )?Scan using instances_finished on instances|Bitmap Index Scan on instances_finished/,
    );
    expect(finished).not.toContain('Seq Scan');
    const unfinished = await plan(UNFINISHED_SQL, [appId]);
    expect(unfinished).toMatch(
      /Index (Only )?Scan using instances_unfinished on instances|Bitmap Index Scan on instances_unfinished/,
    );
    expect(unfinished).not.toContain('Seq Scan');
  });
});
