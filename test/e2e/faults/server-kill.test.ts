import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// kill -9 the server between creating a run and dispatching it, and again
// right after a worker accepted one; a restarted server finishes both, and
// only one TaskTracker ever counts (one epoch, one run attempt).

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['sk-1'] });
});
afterAll(() => cluster.stop());

describe('kill -9 the server', () => {
  it('before it dispatched a created run: the restarted server dispatches it', async () => {
    const { app } = cluster;
    // Due in 2 s: the row exists, its dispatch timer dies with the server.
    const run = await cluster.run(
      { processorName: 'echo' },
      { params: { text: 'survived' }, delayMs: 2_000 },
    );
    expect(run.status).toBe('WAITING_DISPATCH');
    await cluster.restartServer();
    const done = await waitForInstance(app, run.id, (i) => i.status === 'SUCCEEDED', 30_000);
    expect(done).toMatchObject({ result: 'survived', epoch: 1, runAttempt: 1 });
  }, 60_000);

  it('right after a worker accepted a run: its TaskTracker’s final report lands on the new server', async () => {
    const { app } = cluster;
    const run = await cluster.run({ processorName: 'nap' }, { params: { ms: 3_000 } });
    await waitForInstance(app, run.id, (i) => i.status === 'RUNNING', 30_000);
    await cluster.restartServer();
    const done = await waitForInstance(
      app,
      run.id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'napped on sk-1',
      epoch: 1,
      runAttempt: 1,
    });

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 60_000);
});
