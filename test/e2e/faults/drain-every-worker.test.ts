import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// SIGTERM the TaskTracker's worker together with every other worker of a
// map-reduce: no ProcessorTracker is left, so the run goes back to the server
// at once (not failed as "no ProcessorTracker alive" while the drain grace
// runs) and finishes on workers started afterwards, without using a retry.

const db = useDatabase();
let cluster: DroverCluster;
const OLD = ['dew-1', 'dew-2', 'dew-3'];
const NEW = ['dew-4', 'dew-5'];
const LEAVES = { count: 1_500, ms: 20 };

beforeAll(async () => {
  // A grace longer than the 30 s no-ProcessorTracker give-up: the run must not wait for either.
  cluster = await startDroverCluster(db.url, {
    workers: OLD,
    workerArgs: ['--drain-grace-ms', '40000'],
  });
});
afterAll(() => cluster.stop());

describe('SIGTERM every worker of a map-reduce, its TaskTracker’s included', () => {
  it('hands the run back and it finishes on other workers, every task once', async () => {
    const { app } = cluster;
    const id = (
      await cluster.run(
        {
          processorName: 'leaves',
          executeType: 'MAP_REDUCE',
          concurrencyPerWorker: 2,
          instanceRetry: { maximumAttempts: 1 },
        },
        { params: LEAVES },
      )
    ).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);

    for (const w of OLD) cluster.workers.get(w)?.child.kill('SIGTERM');
    // Drained and gone well before their grace: nothing was left for them to wait for.
    for (const w of OLD) expect(await cluster.workers.get(w)?.exited, w).toBe(0);
    const back = await waitForInstance(app, id, (i) => i.status !== 'RUNNING', 5_000);
    expect(back.status).toMatch(/^WAITING_/);

    await Promise.all(NEW.map((w) => cluster.startWorker(w)));
    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: `${LEAVES.count} leaves, sum ${(LEAVES.count * (LEAVES.count + 1)) / 2}`,
      runAttempt: 1,
    });
    expect(NEW).toContain(done.workerId);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, OLD);
  }, 150_000);
});
