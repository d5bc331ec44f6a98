import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../packages/server/test/support/api-client.js';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import type { ReadyProcess } from '../../harness/process.js';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Postgres away for 60 s while the server starts, and for 20 s in the middle
// of a run (a TCP proxy between the server and Postgres is switched off): the
// server neither crashes nor crash-loops, says it is not ready, and once
// Postgres is back every run completes; none is failed for the silence the
// outage caused.

const db = useDatabase();
let proxy: TcpProxy;
let cluster: DroverCluster | undefined;

const outage = (ms: number) => new Promise((r) => setTimeout(r, ms)); // the fault's length, not a wait for an event

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
});

describe('Postgres outages', () => {
  it('survives 60 s without Postgres at start, then 20 s mid-run, losing nothing', async () => {
    const pgUrl = new URL(db.url);
    proxy = await startTcpProxy(Number(pgUrl.port), false);
    pgUrl.port = String(proxy.port);

    let server: ReadyProcess | undefined;
    let notReady: Record<string, unknown> | undefined;
    const starting = startDroverCluster(pgUrl.toString(), {
      onListening: (s, url) => {
        server = s;
        void new ApiClient(url).get('/readyz').then((res) => {
          notReady = res.body;
        });
      },
    });
    const exitedEarly = await Promise.race([
      (async () => {
        for (;;) {
          if (server) return server.exited.then(() => true);
          await outage(50);
        }
      })(),
      outage(60_000).then(() => false),
    ]);
    expect(exitedEarly).toBe(false);
    expect(notReady).toMatchObject({ ready: false });
    proxy.enable();
    cluster = await starting;

    await cluster.startWorker('pg-1');
    const { app } = cluster;
    const run = await cluster.run({ processorName: 'nap' }, { params: { ms: 25_000 } });
    await waitForInstance(app, run.id, (i) => i.status === 'RUNNING', 30_000);
    proxy.disable();
    await outage(20_000);
    proxy.enable();

    const done = await waitForInstance(
      app,
      run.id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      60_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: 'napped on pg-1', runAttempt: 1 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 240_000);
});
