import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { stopProcess } from '../../harness/process.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Everything kill -9ed with runs in flight, then started again: the sweeper
// settles every run within its bound (silent TaskTracker: 15 s + a sweep), and
// a run whose policy allows a retry runs again and succeeds.

const db = useDatabase();
let cluster: DroverCluster;

async function aliveWorkers(count: number): Promise<void> {
  const { app } = cluster;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  await Promise.all(['cold-1', 'cold-2'].map((id) => cluster.startWorker(id)));
  await aliveWorkers(2);
});
afterAll(() => cluster.stop());

describe('cold restart of the whole cluster', () => {
  it('settles every run that was in flight, retrying those whose policy allows it', async () => {
    const { app } = cluster;
    const create = (spec: Record<string, unknown>) =>
      app.api.post(`/api/v1/apps/${app.name}/jobs`, {
        name: uniqueName('cold'),
        timeExpressionType: 'API',
        ...spec,
      });
    const forever = await create({ processorName: 'forever' });
    const sum = await create({
      processorName: 'slow-sum',
      executeType: 'MAP_REDUCE',
      concurrencyPerWorker: 2,
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: 100 },
    });
    const runs = await Promise.all(
      [forever, sum].map(
        async (job) =>
          (await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {})).body
            .id as string,
      ),
    );
    await Promise.all(
      runs.map((id) => waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000)),
    );

    await Promise.all([
      stopProcess(cluster.server, 'SIGKILL'),
      ...[...cluster.workers.values()].map((w) => stopProcess(w, 'SIGKILL')),
    ]);
    await cluster.restartServer();
    await Promise.all(['cold-1', 'cold-2'].map((id) => cluster.startWorker(id)));

    const [lost, retried] = await Promise.all(
      runs.map((id) =>
        waitForInstance(app, id, (i) => ['SUCCEEDED', 'FAILED'].includes(i.status), 60_000),
      ),
    );
    expect(lost).toMatchObject({ status: 'FAILED' });
    expect(lost?.reason).toContain('silent');
    expect(retried).toMatchObject({
      status: 'SUCCEEDED',
      result: '200 leaves, sum 200010000',
      runAttempt: 2,
    });

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
