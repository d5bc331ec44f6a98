import { workerStatusSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
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

// kill -9 the worker whose TaskTracker owns a map-reduce: the server sees the
// worker gone and dispatches the run again on another worker without using a
// retry (a lost worker is not a processor failure), where it succeeds with
// every task counted once; the ProcessorTrackers the dead TaskTracker left
// behind stop.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
const IDS = ['ktt-1', 'ktt-2', 'ktt-3'];

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: IDS });
  nc = await cluster.nats.connect('ktt-observer');
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

/** A worker's live counts, from its monitoring endpoint. */
async function counts(
  workerId: string,
): Promise<{ taskTrackers: number; processorTrackers: number }> {
  const reply = await nc.request(workerStatusSubject(cluster.app.name, workerId), '', {
    timeout: 3_000,
  });
  return reply.json();
}

describe('kill -9 the TaskTracker’s worker mid map-reduce', () => {
  it('runs it again elsewhere, counts every task once, and leaves no ProcessorTracker behind', async () => {
    const { app } = cluster;
    const id = (
      await cluster.run({
        ...SLOW_SUM,
        instanceRetry: { maximumAttempts: 2, initialIntervalMs: 100 },
      })
    ).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const victim = running.workerId as string;
    await untilLeafLoggedBy(app, id, (w) => w !== victim);
    cluster.workers.get(victim)?.child.kill('SIGKILL');

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      90_000,
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: SLOW_SUM_RESULT,
      runAttempt: 1,
    });
    expect(done.workerId).not.toBe(victim);
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });

    for (const survivor of IDS.filter((w) => w !== victim)) {
      for (;;) {
        const now = await counts(survivor);
        if (now.taskTrackers === 0 && now.processorTrackers === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victim]);
  }, 150_000);
});
