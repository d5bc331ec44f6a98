import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type AuthorizedNats, startAuthorizedNats } from '../../harness/authorized-nats.js';
import {
  type DroverCluster,
  SLOW_SUM,
  SLOW_SUM_RESULT,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// nats-server restarted mid map-reduce (its own, on a fixed port): every
// process reconnects, the run succeeds, every task counted once.

const db = useDatabase();
let nats: AuthorizedNats;
let cluster: DroverCluster;

beforeAll(async () => {
  nats = await startAuthorizedNats();
  cluster = await startDroverCluster(db.url, { nats, workers: ['nr-1', 'nr-2'] });
});
afterAll(async () => {
  await cluster.stop();
  await nats.stop();
});

describe('nats-server restart mid-run', () => {
  it('reconnects everyone and the map-reduce still succeeds', async () => {
    const { app } = cluster;
    const id = (await cluster.run(SLOW_SUM)).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);

    // Each process says it lost NATS and found it again (watched from before the restart).
    const said = [cluster.server, ...cluster.workers.values()].map((p) =>
      Promise.all([
        p.waitFor(/"msg":"NATS connection lost; reconnecting"/, 90_000),
        p.waitFor(/"msg":"NATS reconnected"/, 90_000),
      ]),
    );
    // Same port, same config: the authorization the server wrote is read again.
    await nats.restart();

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      90_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
    await Promise.all(said);
  }, 120_000);
});
