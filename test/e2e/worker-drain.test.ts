import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// SIGTERM drains a worker: its running tasks finish and report, the tasks it
// still holds go back to their TaskTracker at once, and a run it owns past the
// drain grace goes back to the server for another worker. Nothing is lost or
// counted twice, and the drained worker exits cleanly.

const db = useDatabase();
let cluster: DroverCluster;

async function aliveWorkers(count: number): Promise<void> {
  const { app } = cluster;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length === count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  await Promise.all(
    ['drain-1', 'drain-2', 'drain-3'].map((id) =>
      cluster.startWorker(id, ['--drain-grace-ms', '300']),
    ),
  );
  await aliveWorkers(3);
});
afterAll(() => cluster.stop());

describe('SIGTERM drain', () => {
  it('hands a ProcessorTracker’s tasks back mid map-reduce; every task counts once', async () => {
    const { app } = cluster;
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('sum'),
      processorName: 'slow-sum',
      executeType: 'MAP_REDUCE',
      timeExpressionType: 'API',
      concurrencyPerWorker: 2,
    });
    const id = (await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {})).body
      .id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const tracker = cluster.workers.get(running.workerId as string);
    // Once another worker's ProcessorTracker runs leaves, drain that worker.
    const victimId = await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);
    const victim = cluster.workers.get(victimId);
    victim?.child.kill('SIGTERM');
    expect(await victim?.exited).toBe(0);
    await tracker?.waitFor(new RegExp(`"worker":"${victimId}".*gave back its tasks`), 30_000);

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '200 leaves, sum 200010000' });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    cluster.workers.delete(victimId);
  }, 90_000);

  it('gives a run it cannot finish within the grace back to the server, without using a retry', async () => {
    const { app } = cluster;
    await aliveWorkers(cluster.workers.size);
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('nap'),
      processorName: 'nap',
      timeExpressionType: 'API',
      instanceRetry: { maximumAttempts: 1 },
    });
    const id = (
      await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {
        params: { ms: 4_000 },
      })
    ).body.id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const first = running.workerId as string;
    const owner = cluster.workers.get(first);
    owner?.child.kill('SIGTERM');
    expect(await owner?.exited).toBe(0);
    cluster.workers.delete(first);

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status),
      60_000,
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(done.workerId).not.toBe(first);
    expect(done.result).toBe(`napped on ${done.workerId}`);
    expect(done.epoch).toBeGreaterThan(running.epoch as number);
    expect(done.runAttempt).toBe(1);
  }, 90_000);
});
