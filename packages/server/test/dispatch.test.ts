import { serverStatusSubject } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { FakeWorker } from './support/fake-worker.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

const db = useDatabase();
const nats = useNats();
let server: DroverServer;
let app: TestApp;
const workers: FakeWorker[] = [];

async function worker(
  options: Partial<ConstructorParameters<typeof FakeWorker>[1]> = {},
): Promise<FakeWorker> {
  const w = await new FakeWorker(await nats.connect('worker'), {
    app: app.name,
    workerId: uniqueName('w'),
    ...options,
  }).start();
  workers.push(w);
  return w;
}

async function createJob(spec: Record<string, unknown> = {}): Promise<string> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName: 'noop',
    timeExpressionType: 'API',
    ...spec,
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function run(jobId: string, body: Record<string, unknown> = {}) {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/run`, body);
  expect([200, 202]).toContain(res.status);
  return res.body as { id: string };
}

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.vanish()));
  await server.stop();
});

describe('dispatch', () => {
  it('runs an API job on a worker and records its result', async () => {
    const w = await worker();
    const jobId = await createJob({ jobParams: { greeting: 'hi' } });
    const instance = await run(jobId, { params: { n: 42 } });
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const req = w.runs.find((r) => r.instanceId === instance.id);
    expect(req).toMatchObject({
      jobId,
      processorName: 'noop',
      jobParams: { greeting: 'hi' },
      instanceParams: { n: 42 },
      epoch: 1,
    });
    const running = await waitForInstance(app, instance.id, (i) => i.status === 'RUNNING');
    expect(running.workerId).toBe(w.options.workerId);
    const ack = await w.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED', 'done: 42');
    expect(ack).toEqual({ accepted: true, stop: false });
    const final = await waitForInstance(app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(final).toMatchObject({ result: 'done: 42', runAttempt: 1 });
    expect(final.finishedAt).toBeTypeOf('number');
    await w.vanish();
  });

  it('returns the same instance for a repeated idempotency key', async () => {
    const jobId = await createJob();
    const first = await run(jobId, { idempotencyKey: 'order-17', delayMs: 60_000 });
    const second = await run(jobId, { idempotencyKey: 'order-17', delayMs: 60_000 });
    expect(second.id).toBe(first.id);
  });

  it('waits with backoff while no worker is alive, then dispatches when one joins', async () => {
    const jobId = await createJob({ processorName: 'late-processor' });
    const instance = await run(jobId);
    const waiting = await waitForInstance(app, instance.id, (i) => i.status === 'WAITING_WORKER');
    expect(waiting.reason).toMatch(/late-processor|no worker/);
    const w = await worker({ processors: ['late-processor'] });
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    await waitForInstance(app, instance.id, (i) => i.status === 'RUNNING');
    await w.vanish();
  });

  it('moves on at once from a worker that answers no-responders', async () => {
    const ghostId = uniqueName('ghost');
    const ghost = new FakeWorker(await nats.connect('ghost'), {
      app: app.name,
      workerId: ghostId,
      processors: ['solo'],
      freeSlots: 100,
    });
    // Heartbeats but no handlers: run_job to it gets a 503 from NATS.
    ghost.heartbeat();
    const real = await worker({ processors: ['solo'], freeSlots: 1 });
    const jobId = await createJob({ processorName: 'solo' });
    const instance = await run(jobId);
    await real.until(() => real.runs.some((r) => r.instanceId === instance.id));
    // The ghost was tried first (healthier); the real worker got the second epoch.
    expect(real.runs.find((r) => r.instanceId === instance.id)?.epoch).toBe(2);
    await real.vanish();
  });

  it('tries the next worker when one refuses', async () => {
    const refuser = await worker({ processors: ['picky'], freeSlots: 4, onRunJob: () => 'refuse' });
    const taker = await worker({ processors: ['picky'], freeSlots: 1 });
    const instance = await run(await createJob({ processorName: 'picky' }));
    await taker.until(() => taker.runs.some((r) => r.instanceId === instance.id));
    expect(refuser.runs).toHaveLength(0);
    await Promise.all([refuser.vanish(), taker.vanish()]);
  });

  it('honours designated workers and tags', async () => {
    const plain = await worker({ processors: ['tagged'], freeSlots: 4 });
    const gpu = await worker({ processors: ['tagged'], tags: ['gpu'], freeSlots: 1 });
    const instance = await run(await createJob({ processorName: 'tagged', tags: ['gpu'] }));
    await gpu.until(() => gpu.runs.some((r) => r.instanceId === instance.id));
    expect(plain.runs).toHaveLength(0);
    await Promise.all([plain.vanish(), gpu.vanish()]);
  });

  it('queues runs beyond max concurrent instances, and fails them fast when asked', async () => {
    const w = await worker({ processors: ['limited'] });
    const queued = await createJob({ processorName: 'limited', maxConcurrentInstances: 1 });
    const a = await run(queued);
    await w.until(() => w.runs.some((r) => r.instanceId === a.id));
    const b = await run(queued);
    const waitingB = await waitForInstance(
      app,
      b.id,
      (i) => i.status === 'WAITING_DISPATCH' && /maxConcurrentInstances/.test(String(i.reason)),
    );
    expect(waitingB.workerId).toBeNull();
    await w.report({ instanceId: a.id, epoch: 1 }, 'SUCCEEDED');
    await w.until(() => w.runs.some((r) => r.instanceId === b.id));

    const failFast = await createJob({
      processorName: 'limited',
      maxConcurrentInstances: 1,
      concurrencyOverflow: 'FAIL',
    });
    const c = await run(failFast);
    await w.until(() => w.runs.some((r) => r.instanceId === c.id));
    const d = await run(failFast);
    const failed = await waitForInstance(app, d.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/maxConcurrentInstances/);
    await w.vanish();
  });

  it('ignores heartbeats of a second process using a live worker’s id, and of a replay', async () => {
    const holder = await worker({ processors: ['held'] });
    // Another incarnation with the same worker id, offering another processor.
    const impostor = await worker({ processors: ['guarded'], workerId: holder.options.workerId });
    const instance = await run(await createJob({ processorName: 'guarded' }));
    const waiting = await waitForInstance(app, instance.id, (i) => i.status === 'WAITING_WORKER');
    expect(waiting.reason).toMatch(/no alive worker has a processor named "guarded"/);
    expect(impostor.runs).toHaveLength(0);
    const ignored = async () => {
      const reply = await nats.nc.request(serverStatusSubject(server.config.serverId), '', {
        timeout: 3_000,
      });
      return (reply.json() as { heartbeatsIgnored: { stale: number; held: number } })
        .heartbeatsIgnored;
    };
    expect((await ignored()).held).toBeGreaterThan(0);
    // The holder's own old heartbeat, replayed, is not newer than the last one.
    const before = await ignored();
    holder.heartbeat(1);
    await holder.bus.nc.flush();
    await vi.waitFor(async () => expect((await ignored()).stale).toBe(before.stale + 1), {
      timeout: 5_000,
    });
    await impostor.vanish();
    await holder.vanish();
  });

  it('sends frequent jobs as one long-lived run with their interval', async () => {
    const w = await worker({ processors: ['ticker'] });
    const jobId = await createJob({
      processorName: 'ticker',
      timeExpressionType: 'FIXED_RATE',
      timeExpression: '100',
    });
    await w.until(() => w.runs.some((r) => r.jobId === jobId));
    expect(w.runs.find((r) => r.jobId === jobId)?.frequency).toEqual({
      type: 'FIXED_RATE',
      intervalMs: 100,
    });
    // Disabling ends the run and tells its TaskTracker.
    await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/disable`);
    const instanceId = w.runs.find((r) => r.jobId === jobId)?.instanceId as string;
    await w.until(() => w.stops.some((s) => s.instanceId === instanceId));
    expect((await waitForInstance(app, instanceId, (i) => i.status === 'STOPPED')).reason).toBe(
      'job disabled',
    );
    await w.vanish();
  });
});
