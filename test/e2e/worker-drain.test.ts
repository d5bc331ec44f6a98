import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  SLOW_SUM,
  SLOW_SUM_RESULT,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../harness/drover-cluster.js';
import { useDatabase } from '../harness/fixtures.js';

// SIGTERM drains a worker: its running tasks finish and report, the tasks it
// still holds go back to their TaskTracker at once, and a run it owns past the
// drain grace goes back to the server for another worker. Nothing is lost or
// counted twice, and the drained worker exits cleanly.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, {
    workers: ['drain-1', 'drain-2', 'drain-3'],
    workerArgs: ['--drain-grace-ms', '300'],
  });
});
afterAll(() => cluster.stop());

describe('SIGTERM drain', () => {
  it('hands a ProcessorTracker’s tasks back mid map-reduce; every task counts once', async () => {
    const { app } = cluster;
    const id = (await cluster.run(SLOW_SUM)).id as string;
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
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    cluster.workers.delete(victimId);
  }, 90_000);

  it('gives a run it cannot finish within the grace back to the server, without using a retry', async () => {
    const { app } = cluster;
    await cluster.untilWorkersAlive(cluster.workers.size);
    const { id } = await cluster.run(
      { processorName: 'nap', instanceRetry: { maximumAttempts: 1 } },
      { params: { ms: 4_000 } },
    );
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
