import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// Workers that join while a map-reduce runs take part in it (its worker set
// was fixed at dispatch), up to the job's maxWorkerCount. The run's leaves
// wait on a hold file until the TaskTracker says the new workers joined, so
// the run cannot end first however slowly they start (a loaded machine).

const db = useDatabase();
let cluster: DroverCluster;
const LEAVES = { count: 2_000, ms: 20 };
const RESULT = `${LEAVES.count} leaves, sum ${(LEAVES.count * (LEAVES.count + 1)) / 2}`;
const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['wj-1'] });
});
afterAll(() => cluster.stop());

/** Workers that logged leaves of this run (read from the table: the API pages 1,000 lines at a time). */
async function leafWorkers(instanceId: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ worker_id: string }>(
      'SELECT DISTINCT worker_id FROM instance_logs WHERE instance_id = $1 ORDER BY worker_id',
      [instanceId],
    );
    return rows.map((r) => r.worker_id);
  } finally {
    await client.end();
  }
}

/** A file that exists until `release`: leaves of a run given it wait meanwhile. */
async function holdFile(): Promise<{ path: string; release(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'workers-join-'));
  const path = join(dir, 'hold');
  await writeFile(path, '');
  return { path, release: () => rm(dir, { recursive: true, force: true }) };
}

async function leavesRun(holdWhile: string, spec: Record<string, unknown> = {}): Promise<string> {
  const run = await cluster.run(
    { processorName: 'leaves', executeType: 'MAP_REDUCE', concurrencyPerWorker: 2, ...spec },
    { params: { ...LEAVES, holdWhile } },
  );
  await waitForInstance(cluster.app, run.id, (i) => i.status === 'RUNNING', 30_000);
  await untilLeafLoggedBy(cluster.app, run.id, () => true);
  return run.id;
}

describe('workers joining a running map-reduce', () => {
  it('run its tasks too, every task counted once', async () => {
    const { app } = cluster;
    const hold = await holdFile();
    const id = await leavesRun(hold.path);
    const tracker = cluster.workers.get('wj-1');
    await Promise.all(['wj-2', 'wj-3'].map((w) => cluster.startWorker(w)));
    for (const w of ['wj-2', 'wj-3'])
      await tracker?.waitFor(
        new RegExp(`"workers":\\[[^\\]]*"${w}".*workers joined the run`),
        30_000,
      );
    await hold.release();
    expect(await waitForInstance(app, id, final, 90_000)).toMatchObject({
      status: 'SUCCEEDED',
      result: RESULT,
    });
    expect(await leafWorkers(id)).toEqual(['wj-1', 'wj-2', 'wj-3']);
  }, 150_000);

  it('up to the job’s maxWorkerCount', async () => {
    const { app } = cluster;
    await cluster.untilWorkersAlive(3);
    await Promise.all(['wj-1', 'wj-2'].map((w) => cluster.workers.get(w)?.child.kill('SIGKILL')));
    await cluster.untilWorkersAlive(1);
    const hold = await holdFile();
    const id = await leavesRun(hold.path, { maxWorkerCount: 2 });
    const tracker = cluster.workers.get('wj-3');
    await Promise.all(['wj-4', 'wj-5'].map((w) => cluster.startWorker(w)));
    const joined = await tracker?.waitFor(/"workers":\[[^\]]*\].*workers joined the run/, 30_000);
    expect(JSON.parse(joined as string).workers).toHaveLength(1);
    await hold.release();
    const done = await waitForInstance(app, id, final, 90_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: RESULT });
    expect(await leafWorkers(id)).toHaveLength(2);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, ['wj-1', 'wj-2']);
  }, 150_000);
});
