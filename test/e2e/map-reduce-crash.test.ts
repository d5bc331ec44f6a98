import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './faults/checks.js';

// A map-reduce over three worker processes; one that is not the TaskTracker's
// is kill -9ed mid-run. Its tasks go to the others and every leaf counts once.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  await Promise.all(['mr-1', 'mr-2', 'mr-3'].map((id) => cluster.startWorker(id)));
  // A run's task workers are those alive when it is dispatched: wait for all three heartbeats.
  const { app } = cluster;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length === 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(() => cluster.stop());

describe('kill -9 during a map-reduce', () => {
  it('still succeeds, with every task counted once', async () => {
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
    const trackerWorker = running.workerId as string;
    const victim = await untilLeafLoggedBy(cluster.app, id, (w) => w !== trackerWorker);
    cluster.workers.get(victim)?.child.kill('SIGKILL');

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '200 leaves, sum 200010000' });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victim]);
  }, 90_000);
});
