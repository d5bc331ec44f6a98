import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// kill -9 a worker holding map tasks while thousands more wait: the tasks it
// held run elsewhere within the dead-ProcessorTracker bound (5 s + 1 s), ahead
// of the waiting queue, not after it.

const db = useDatabase();
let cluster: DroverCluster;
const IDS = ['dpt-1', 'dpt-2', 'dpt-3'];
const BOUND_MS = 5_000 + 1_000;
// ~10 s of queue on the two survivors: well past the bound if they waited behind it.
const LEAVES = { count: 4_000, ms: 15 };

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: IDS });
});
afterAll(() => cluster.stop());

/**
 * When each task first logged an attempt after its first, once all of them have.
 * (Read from the table: paging the API by id could skip a batch committed out of order.)
 */
async function untilRestarted(instanceId: string, tasks: string[]): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      const { rows } = await client.query<{ task_id: string; ts: Date }>(
        `SELECT task_id, min(ts) AS ts FROM instance_logs
         WHERE instance_id = $1 AND task_id = ANY($2) AND message !~ ' attempt 1 '
         GROUP BY task_id`,
        [instanceId, tasks],
      );
      if (rows.length >= tasks.length || Date.now() > until)
        return new Map(rows.map((r) => [r.task_id, r.ts.getTime()]));
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await client.end();
  }
}

describe('kill -9 a worker holding map tasks behind a long queue', () => {
  it('runs its tasks elsewhere within 5 s + 1 s of the kill, each counted once', async () => {
    const { app } = cluster;
    const id = (
      await cluster.run(
        { processorName: 'leaves', executeType: 'MAP_REDUCE', concurrencyPerWorker: 2 },
        { params: LEAVES },
      )
    ).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const tracker = running.workerId as string;
    const victim = await untilLeafLoggedBy(app, id, (w) => w !== tracker);
    const killedAt = Date.now();
    cluster.workers.get(victim)?.child.kill('SIGKILL');

    // The TaskTracker says which tasks it took back from the dead worker.
    const taken = await cluster.workers
      .get(tracker)
      ?.waitFor(new RegExp(`"worker":"${victim}","redispatched":\\d+`), 20_000);
    const tasks = JSON.parse(taken as string).tasks as string[];
    expect(tasks.length).toBeGreaterThan(0);

    // Each of them starts again (attempt 2) on a survivor: when?
    const started = await untilRestarted(id, tasks);
    expect([...started.keys()].sort()).toEqual([...tasks].sort());
    const delays = [...started.values()].map((t) => t - killedAt);
    const why = cluster.workers
      .get(tracker)
      ?.tail()
      .split('\n')
      .filter((l) => l.includes('silent'))
      .join('\n');
    expect(
      Math.max(...delays),
      `restarted after ${delays} ms; killed at ${killedAt}\n${why}`,
    ).toBeLessThanOrEqual(BOUND_MS);

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: `${LEAVES.count} leaves, sum ${(LEAVES.count * (LEAVES.count + 1)) / 2}`,
      runAttempt: 1,
    });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victim]);
  }, 120_000);
});
