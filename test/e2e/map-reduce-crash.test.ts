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
import { expectSettled, expectSurvivorsAlive } from './faults/checks.js';

// A map-reduce over three worker processes; one that is not the TaskTracker's
// is kill -9ed mid-run. Its tasks go to the others and every leaf counts once.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['mr-1', 'mr-2', 'mr-3'] });
});
afterAll(() => cluster.stop());

describe('kill -9 during a map-reduce', () => {
  it('still succeeds, with every task counted once', async () => {
    const { app } = cluster;
    const id = (await cluster.run(SLOW_SUM)).id as string;
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
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victim]);
  }, 90_000);
});
