import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  SLOW_SUM,
  SLOW_SUM_RESULT,
  startDroverCluster,
} from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { stopProcess } from '../../harness/process.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Everything kill -9ed with runs in flight, then started again: the sweeper
// settles every run within its bound (silent TaskTracker: 15 s + a sweep), and
// a run whose policy allows a retry runs again and succeeds.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['cold-1', 'cold-2'] });
});
afterAll(() => cluster.stop());

describe('cold restart of the whole cluster', () => {
  it('settles every run that was in flight, retrying those whose policy allows it', async () => {
    const { app } = cluster;
    const runs: string[] = await Promise.all(
      [
        { processorName: 'forever' },
        { ...SLOW_SUM, instanceRetry: { maximumAttempts: 2, initialIntervalMs: 100 } },
      ].map(async (spec) => (await cluster.run(spec)).id),
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
      result: SLOW_SUM_RESULT,
      runAttempt: 2,
    });

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
