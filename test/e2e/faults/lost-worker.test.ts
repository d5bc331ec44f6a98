import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// kill -9 the worker of a standalone run: the server sees its connection gone
// (silent heartbeats, then no-responders) and dispatches the run again within
// 5 s of the kill, without using an instance retry. A run that kills every
// worker it touches still ends FAILED, once its 3 re-dispatches are used.

const db = useDatabase();
let cluster: DroverCluster;
const BOUND_MS = 5_000;
const LIMIT = 3;
const killed: string[] = [];
const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['lw-1', 'lw-2', 'lw-3', 'lw-4', 'lw-5'] });
});
afterAll(() => cluster.stop());

async function redispatches(instanceId: string): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      'SELECT lost_worker_redispatches AS n FROM instances WHERE id = $1',
      [instanceId],
    );
    return rows[0]?.n ?? -1;
  } finally {
    await client.end();
  }
}

describe('a standalone run whose worker is lost', () => {
  it('fails a run that kills every worker it touches, once its re-dispatches are used', async () => {
    const { app } = cluster;
    const { id } = await cluster.run({
      processorName: 'kills-its-worker',
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: 100 },
    });
    const done = await waitForInstance(app, id, final, 90_000);
    expect(done.status).toBe('FAILED');
    expect(done.reason).toMatch(
      new RegExp(`lost its worker ${LIMIT + 1} times .*past ${LIMIT} re-dispatches`),
    );
    expect(done.runAttempt).toBe(1);
    expect(await redispatches(id)).toBe(LIMIT);
    for (const [w, p] of cluster.workers) if (p.child.signalCode === 'SIGKILL') killed.push(w);
    expect(killed).toHaveLength(LIMIT + 1);
  }, 120_000);

  it('runs it again on another worker within 5 s of the kill, without using a retry', async () => {
    const { app } = cluster;
    await cluster.startWorker('lw-6');
    await cluster.untilWorkersAlive(2);
    const { id } = await cluster.run(
      { processorName: 'nap', instanceRetry: { maximumAttempts: 1 } },
      { params: { ms: 6_000 } },
    );
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const victim = running.workerId as string;
    const killedAt = Date.now();
    cluster.workers.get(victim)?.child.kill('SIGKILL');
    killed.push(victim);

    const again = await waitForInstance(
      app,
      id,
      (i) => final(i) || (i.status === 'RUNNING' && i.workerId !== victim),
      30_000,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(BOUND_MS);
    expect(again.status).toBe('RUNNING');
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      runAttempt: 1,
      result: `napped on ${again.workerId}`,
    });
    expect(await redispatches(id)).toBe(1);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, killed);
  }, 90_000);
});
