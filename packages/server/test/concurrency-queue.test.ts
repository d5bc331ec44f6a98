import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { FakeWorker } from './support/fake-worker.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

// Runs beyond a job's maxConcurrentInstances wait in (due time, id) order and
// start as soon as a run of their job ends, whichever server queued them.

const db = useDatabase();
const nats = useNats();
const servers: DroverServer[] = [];
let app: TestApp;
let worker: FakeWorker;
let sql: pg.Client;

beforeAll(async () => {
  servers.push(await startTestServer(db.url), await startTestServer(db.url));
  await Promise.all(servers.map((s) => s.ready));
  app = await createTestApp(servers[0] as DroverServer, uniqueName('app'));
  worker = await new FakeWorker(await nats.connect('worker'), {
    app: app.name,
    workerId: 'w1',
    processors: ['queued'],
  }).start();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(async () => {
  await worker.vanish();
  await sql.end();
  await Promise.all(servers.map((s) => s.stop()));
});

async function createLimitedJob(): Promise<string> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('limited'),
    processorName: 'queued',
    timeExpressionType: 'API',
    maxConcurrentInstances: 1,
    instanceRetry: { maximumAttempts: 2, initialIntervalMs: 0 },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function run(jobId: string): Promise<string> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/run`, {});
  expect(res.status).toBe(202);
  return res.body.id as string;
}

const queued = (id: string) =>
  waitForInstance(
    app,
    id,
    (i) => i.status === 'WAITING_DISPATCH' && /maxConcurrentInstances/.test(String(i.reason)),
  );

/** The epoch the worker got `id` under, once it got it under an epoch above `after`. */
async function started(id: string, after = 0): Promise<number> {
  const run = () => worker.runs.find((r) => r.instanceId === id && r.epoch > after);
  await worker.until(() => run() !== undefined);
  return run()?.epoch as number;
}

describe('queued runs of a job with max concurrent instances', () => {
  it('start in FIFO order, each as soon as the run before it ends', async () => {
    const jobId = await createLimitedJob();
    const first = await run(jobId);
    await started(first);
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) {
      waiting.push(await run(jobId));
      await queued(waiting.at(-1) as string);
    }
    // No re-check may start them: only the end of a run of their job can.
    await sql.query(
      `UPDATE instances SET next_dispatch_at = now() + interval '1 hour' WHERE id = ANY($1::bigint[])`,
      [waiting],
    );
    let previous = first;
    for (const id of waiting) {
      await worker.report({ instanceId: previous, epoch: 1 }, 'SUCCEEDED');
      expect(await started(id)).toBe(1);
      // Only the oldest queued run started: the next ones still wait.
      for (const later of waiting.slice(waiting.indexOf(id) + 1))
        expect(worker.runs.some((r) => r.instanceId === later)).toBe(false);
      previous = id;
    }
    await worker.report({ instanceId: previous, epoch: 1 }, 'SUCCEEDED');
    expect(worker.runs.filter((r) => r.jobId === jobId).map((r) => r.instanceId)).toEqual([
      first,
      ...waiting,
    ]);
  });

  it('gives the freed slot to the run queued first, before a retry that became due later', async () => {
    const jobId = await createLimitedJob();
    const failing = await run(jobId);
    await started(failing);
    const older = await run(jobId);
    await queued(older);
    // The failure frees the slot and schedules a retry due at once: the older run goes first.
    await worker.report({ instanceId: failing, epoch: 1 }, 'FAILED', 'boom');
    const retry = await waitForInstance(
      app,
      failing,
      (i) => i.epoch !== 1 || /maxConcurrentInstances/.test(String(i.reason)),
    );
    expect(retry).toMatchObject({ status: 'WAITING_DISPATCH', runAttempt: 2, epoch: 1 });
    expect(await started(older)).toBe(1);
    await worker.report({ instanceId: older, epoch: 1 }, 'SUCCEEDED');
    expect(await started(failing, 1)).toBe(2);
    await worker.report({ instanceId: failing, epoch: 2 }, 'SUCCEEDED');
  });

  it('starts a queued run at its re-check when no server saw its slot free', async () => {
    const jobId = await createLimitedJob();
    const holder = await run(jobId);
    await started(holder);
    const waiting = await run(jobId);
    await queued(waiting);
    // The slot frees with no server told (as if the server recording it died at once).
    const freedAt = Date.now();
    await sql.query(
      `UPDATE instances SET status = 'SUCCEEDED', finished_at = now() WHERE id = $1`,
      [holder],
    );
    await started(waiting);
    // Documented bound: the 5 s re-check plus one scan (0.5 s; 0.1 s here), with 1 s of slack.
    expect(Date.now() - freedAt).toBeLessThan(5_000 + 500 + 1_000);
    await worker.report({ instanceId: waiting, epoch: 1 }, 'SUCCEEDED');
  });
});
