import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// Real drover-server and drover-worker processes, real jobs, and a kill -9.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
});
afterAll(() => cluster.stop());

async function run(processorName: string, params?: unknown) {
  const { app } = cluster;
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'API',
  });
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, { params });
  return res.body.id as string;
}

describe('drover-worker binary', () => {
  it('runs a job from a processors module', async () => {
    await cluster.startWorker('w-echo');
    const id = await run('echo', { text: 'through real processes' });
    const done = await waitForInstance(
      cluster.app,
      id,
      (i) => i.status === 'SUCCEEDED' || i.status === 'FAILED',
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'through real processes',
      workerId: 'w-echo',
    });
  });

  it('runs a run whose worker was kill -9ed again on another worker, without a retry', async () => {
    await cluster.startWorker('w-victim');
    const id = await run('forever');
    const running = await waitForInstance(cluster.app, id, (i) => i.status === 'RUNNING', 30_000);
    // Whichever worker took the run is the one to kill.
    cluster.workers.get(running.workerId as string)?.child.kill('SIGKILL');
    const again = await waitForInstance(
      cluster.app,
      id,
      (i) => i.status === 'RUNNING' && i.workerId !== running.workerId,
      40_000,
    );
    expect(again.epoch).toBeGreaterThan(running.epoch as number);
    expect(again.runAttempt).toBe(1);
  }, 60_000);

  it('drains on SIGTERM: exits 0 after telling the servers it takes no work', async () => {
    const w = await cluster.startWorker('w-drain');
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.tail()).toMatch(/"msg":"worker stopped"/);
  });
});
