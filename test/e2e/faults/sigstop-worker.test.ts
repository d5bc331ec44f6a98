import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// A worker paused (SIGSTOP) past the dead-ProcessorTracker bound mid
// map-reduce: its tasks go elsewhere, its late results (after SIGCONT) are
// ignored, every task counts once, and it rejoins and works again.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  await Promise.all(['stop-1', 'stop-2', 'stop-3'].map((id) => cluster.startWorker(id)));
  const { app } = cluster;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length === 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(() => cluster.stop());

describe('SIGSTOP a worker past the dead-peer bound', () => {
  it('re-dispatches its tasks, ignores its late results, and lets it rejoin', async () => {
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
    const victimId = await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);
    const victim = cluster.workers.get(victimId);
    victim?.child.kill('SIGSTOP');
    await tracker?.waitFor(new RegExp(`"worker":"${victimId}".*ProcessorTracker silent`), 30_000);
    victim?.child.kill('SIGCONT');

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '200 leaves, sum 200010000' });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });

    // It rejoined: a run pinned to it (SPECIFY) succeeds there.
    const pinned = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('echo'),
      processorName: 'echo',
      timeExpressionType: 'API',
      dispatchStrategy: 'SPECIFY',
      designatedWorkers: [victimId],
    });
    const again = await app.api.post(`/api/v1/apps/${app.name}/jobs/${pinned.body.id}/run`, {
      params: { text: 'back' },
    });
    const after = await waitForInstance(
      app,
      again.body.id,
      (i) => i.status === 'SUCCEEDED',
      30_000,
    );
    expect(after).toMatchObject({ workerId: victimId, result: 'back' });

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
