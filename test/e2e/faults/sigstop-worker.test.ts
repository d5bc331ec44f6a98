import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  SLOW_SUM,
  SLOW_SUM_RESULT,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// A worker paused (SIGSTOP) past the dead-ProcessorTracker bound mid
// map-reduce: its tasks go elsewhere, its late results (after SIGCONT) are
// ignored, every task counts once, and it rejoins and works again.

const db = useDatabase();
let cluster: DroverCluster;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['stop-1', 'stop-2', 'stop-3'] });
});
afterAll(() => cluster.stop());

describe('SIGSTOP a worker past the dead-peer bound', () => {
  it('re-dispatches its tasks, ignores its late results, and lets it rejoin', async () => {
    const { app } = cluster;
    const id = (await cluster.run(SLOW_SUM)).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const tracker = cluster.workers.get(running.workerId as string);
    const victimId = await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);
    const victim = cluster.workers.get(victimId);
    victim?.child.kill('SIGSTOP');
    // Found dead by its silence, or by a start_tasks ask timing out, whichever comes first.
    await tracker?.waitFor(
      new RegExp(`"worker":"${victimId}".*ProcessorTracker (silent|unreachable)`),
      30_000,
    );
    victim?.child.kill('SIGCONT');

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });

    // It rejoined: a run pinned to it (SPECIFY) succeeds there.
    const again = await cluster.run(
      { processorName: 'echo', dispatchStrategy: 'SPECIFY', designatedWorkers: [victimId] },
      { params: { text: 'back' } },
    );
    const after = await waitForInstance(app, again.id, (i) => i.status === 'SUCCEEDED', 30_000);
    expect(after).toMatchObject({ workerId: victimId, result: 'back' });

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
