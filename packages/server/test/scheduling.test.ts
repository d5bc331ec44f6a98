import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { FakeWorker } from './support/fake-worker.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

const db = useDatabase();
const nats = useNats();
const servers: DroverServer[] = [];
let app: TestApp;
let worker: FakeWorker;
let sql: pg.Client;

beforeAll(async () => {
  // Two servers on one database, as in a real deployment.
  servers.push(await startTestServer(db.url), await startTestServer(db.url));
  await Promise.all(servers.map((s) => s.ready));
  app = await createTestApp(servers[0] as DroverServer, uniqueName('app'));
  worker = await new FakeWorker(await nats.connect('worker'), {
    app: app.name,
    workerId: 'w1',
    processors: ['tick'],
    autoSucceed: true,
  }).start();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(async () => {
  await worker.vanish();
  await sql.end();
  await Promise.all(servers.map((s) => s.stop()));
});

async function slotsOf(jobId: string): Promise<{ at: number; status: string }[]> {
  const { rows } = await sql.query<{ at: Date; status: string }>(
    'SELECT expected_trigger_at AS at, status FROM instances WHERE job_id = $1 ORDER BY expected_trigger_at',
    [jobId],
  );
  return rows.map((r) => ({ at: r.at.getTime(), status: r.status }));
}

describe('scheduling across servers', () => {
  it('fires an every-second CRON job for 10 s from two servers with no duplicate and no missed slot', async () => {
    const created = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: 'every-second',
      processorName: 'tick',
      timeExpressionType: 'CRON',
      timeExpression: '* * * * * *',
    });
    expect(created.status).toBe(201);
    const jobId = created.body.id as string;
    // Let it run for ten slots: the worker sees each run as it is dispatched.
    await worker.until(() => worker.runs.filter((r) => r.jobId === jobId).length >= 11);
    await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/disable`);

    const slots = await slotsOf(jobId);
    const fired = worker.runs.filter((r) => r.jobId === jobId).map((r) => r.instanceId);
    expect(new Set(fired).size).toBe(fired.length); // no instance dispatched twice
    const times = slots.map((s) => s.at);
    expect(new Set(times).size).toBe(times.length); // no slot twice
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps.every((g) => g === 1_000)).toBe(true); // no slot missed
    expect(times.every((t) => t % 1_000 === 0)).toBe(true);
    expect(slots.length).toBeGreaterThanOrEqual(11);
  });

  it('fires a one-shot job once', async () => {
    const at = new Date(Date.now() + 1_500).toISOString();
    const created = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: 'once',
      processorName: 'tick',
      timeExpressionType: 'ONE_SHOT',
      timeExpression: at,
    });
    const jobId = created.body.id as string;
    await worker.until(() => worker.runs.some((r) => r.jobId === jobId));
    const slots = await slotsOf(jobId);
    expect(slots.map((s) => s.at)).toEqual([Date.parse(at)]);
    expect(
      (await app.api.get(`/api/v1/apps/${app.name}/jobs/${jobId}`)).body.nextTriggerAt,
    ).toBeNull();
  });

  it('fires a one-shot job with a delay exactly once, and not again on edit or re-enable', async () => {
    const spec = {
      name: 'once-after-delay',
      processorName: 'tick',
      timeExpressionType: 'ONE_SHOT',
      timeExpression: '1200',
    };
    const created = await app.api.post(`/api/v1/apps/${app.name}/jobs`, spec);
    expect(created.status).toBe(201);
    const jobId = created.body.id as string;
    const job = `/api/v1/apps/${app.name}/jobs/${jobId}`;
    await worker.until(() => worker.runs.some((r) => r.jobId === jobId));
    // One claim inserts every slot of the window: a second slot would be there now.
    const slots = await slotsOf(jobId);
    expect(slots.map((s) => s.at)).toEqual([(created.body.nextTriggerAt as number) ?? 0]);

    // Editing other options, disabling and enabling keep the slot that has passed.
    const edited = await app.api.put(job, { ...spec, description: 'edited' });
    expect(edited.body.nextTriggerAt).toBeNull();
    await app.api.post(`${job}/disable`);
    const enabled = await app.api.post(`${job}/enable`);
    expect(enabled.body.nextTriggerAt).toBeNull();
    expect((await app.api.get(job)).body.nextTriggers).toEqual([]);

    // A new time expression is a new one-shot: it fires once more.
    const moved = await app.api.put(job, { ...spec, timeExpression: '300' });
    expect(moved.body.nextTriggerAt).toBeTypeOf('number');
    await worker.until(() => worker.runs.filter((r) => r.jobId === jobId).length >= 2);
    expect((await slotsOf(jobId)).length).toBe(2);
    expect(worker.runs.filter((r) => r.jobId === jobId)).toHaveLength(2);
  });
});
