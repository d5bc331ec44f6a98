import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { type NatsServer, startNatsServer } from '../../harness/nats-server.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// nats-server restarted mid map-reduce (its own, on a fixed port): every
// process reconnects, the run succeeds, every task counted once.

const db = useDatabase();
let nats: NatsServer;
let cluster: DroverCluster;

beforeAll(async () => {
  nats = await startNatsServer();
  cluster = await startDroverCluster(db.url, { natsUrl: nats.url });
  await Promise.all(['nr-1', 'nr-2'].map((id) => cluster.startWorker(id)));
  const { app } = cluster;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(async () => {
  await cluster.stop();
  await nats.stop();
});

describe('nats-server restart mid-run', () => {
  it('reconnects everyone and the map-reduce still succeeds', async () => {
    const { app } = cluster;
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('sum'),
      processorName: 'slow-sum',
      executeType: 'MAP_REDUCE',
      timeExpressionType: 'API',
      concurrencyPerWorker: 2,
    });
    const id = (await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {})).body
      .id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    await untilLeafLoggedBy(app, id, (w) => w !== running.workerId);

    await nats.stop();
    nats = await startNatsServer({ port: nats.port });

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      90_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '200 leaves, sum 200010000' });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
