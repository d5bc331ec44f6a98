import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// Processors run in worker threads: CPU-bound or exiting user code must not
// make a live worker look dead, and stop must still end a run.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  await cluster.startWorker('iso-1');
});
afterAll(() => cluster.stop());

async function run(processorName: string, params?: unknown, spec: Record<string, unknown> = {}) {
  const { app } = cluster;
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'API',
    ...spec,
  });
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, { params });
  return res.body.id as string;
}

const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

describe('processor isolation', () => {
  it('keeps heartbeats flowing while a processor hogs the CPU past the dead-worker bound', async () => {
    const { app } = cluster;
    // 12 s of busy loop: longer than the 10 s after which a silent worker counts as dead.
    const id = await run('hog', { ms: 12_000 });
    await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    let checks = 0;
    for (;;) {
      const instance = await app.api.get(`/api/v1/apps/${app.name}/instances/${id}`);
      if (final(instance.body)) break;
      const workers = await app.api.get(`/api/v1/apps/${app.name}/workers`);
      const me = workers.body.workers.find((w: { workerId: string }) => w.workerId === 'iso-1');
      expect(me.alive).toBe(true);
      expect(Date.now() - me.lastSeenAt).toBeLessThan(5_000);
      checks++;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(checks).toBeGreaterThan(15); // the run really lasted past the bound
    expect((await waitForInstance(app, id, final)).status).toBe('SUCCEEDED');
  }, 40_000);

  it('stops a processor that never yields, and the worker keeps working', async () => {
    const { app } = cluster;
    const id = await run('hog', { ms: 600_000 });
    await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    await app.api.post(`/api/v1/apps/${app.name}/instances/${id}/stop`);
    expect((await waitForInstance(app, id, final)).status).toBe('STOPPED');
    const next = await run('echo', { text: 'still here' });
    expect(await waitForInstance(app, next, final)).toMatchObject({
      status: 'SUCCEEDED',
      result: 'still here',
    });
  }, 40_000);

  it('fails a processor that calls process.exit, after its retries, without taking the worker down', async () => {
    const { app } = cluster;
    const id = await run('exits', undefined, {
      taskRetry: { maximumAttempts: 3, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(/processor thread exited with code 3/);
    expect(cluster.workers.get('iso-1')?.child.exitCode).toBeNull();
    const next = await run('echo', { text: 'fleet intact' });
    expect(await waitForInstance(app, next, final)).toMatchObject({
      status: 'SUCCEEDED',
      result: 'fleet intact',
    });
  }, 40_000);
});
