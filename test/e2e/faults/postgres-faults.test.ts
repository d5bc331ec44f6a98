import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import {
  abortStatementsOfLostClients,
  holdStatusChanges,
  terminateEvery,
  untilHeld,
} from '../../harness/pg-faults.js';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy.js';
import { expectExecutedOnce, expectSettled, expectSurvivorsAlive } from './checks.js';

// Postgres connections reset (RST) every second for 20 s, Postgres flapping
// down and up every second for 20 s, and Postgres terminating the server's
// sessions (pg_terminate_backend) every half second, each while a worker's
// accept, final reports and a queued run's dispatch transaction are in flight:
// no process exits, no healthy run fails, no run executes twice, and every run
// is final once Postgres behaves again.

const db = useDatabase();
let sql: pg.Client;
let proxy: TcpProxy;
let cluster: DroverCluster;
const dir = mkdtempSync(join(tmpdir(), 'drover-pg-faults-'));

const FAULT_MS = 20_000;
const faultLasts = () => new Promise((r) => setTimeout(r, FAULT_MS)); // the fault's length, not a wait for an event
const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];

beforeAll(async () => {
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await abortStatementsOfLostClients(sql, db.name);
  const pgUrl = new URL(db.url);
  proxy = await startTcpProxy(Number(pgUrl.port));
  pgUrl.port = String(proxy.port);
  cluster = await startDroverCluster(pgUrl.toString(), { workers: ['pgf-1', 'pgf-2'] });
});
afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
  await sql?.end();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs that meet the fault at its worst: two already running (their final
 * reports fall in it), one dispatched into it (its accept is in flight when
 * it hits) and one queued behind a concurrency limit (its dispatch
 * transaction is in flight). Then checks the end state.
 */
async function throughFault(name: string, startFault: () => () => unknown): Promise<void> {
  const { app } = cluster;
  const markers = join(dir, name);
  const counted = (ms: number) => ({ params: { ms, markers } });
  const limitedJob = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: `${name}-limited`,
    timeExpressionType: 'API',
    processorName: 'counted',
    maxConcurrentInstances: 1,
  });
  const runLimited = async (ms: number) =>
    (await app.api.post(`/api/v1/apps/${app.name}/jobs/${limitedJob.body.id}/run`, counted(ms)))
      .body;

  const running = [await cluster.run({ processorName: 'counted' }, counted(6_000))];
  running.push(await runLimited(6_000));
  for (const r of running) await waitForInstance(app, r.id, (i) => i.status === 'RUNNING');

  const hold = await holdStatusChanges(sql);
  let accepted: { id: string };
  let queued: { id: string };
  try {
    accepted = await cluster.run({ processorName: 'counted' }, counted(3_000));
    queued = await runLimited(1_000);
    // The accept and the queued run's requeue wait in Postgres (the TaskTracker's first report waits behind the accept).
    await untilHeld(sql, 2);
    const stopFault = startFault();
    await faultLasts();
    await stopFault();
  } finally {
    await hold.release();
  }

  const runs = [...running, accepted, queued];
  const done = [];
  for (const r of runs) {
    done.push(await waitForInstance(app, r.id, (i) => FINAL.includes(i.status), 90_000));
  }
  expect(done.filter((i) => i.status !== 'SUCCEEDED')).toEqual([]);
  expectExecutedOnce(
    markers,
    runs.map((r) => r.id),
  );
  await expectSettled(db.url);
  expectSurvivorsAlive(cluster);
}

describe('Postgres faults mid-run', () => {
  it('connections reset every second for 20 s', async () => {
    await throughFault('reset', () => proxy.resetEvery(1_000));
  }, 180_000);

  it('Postgres flapping down and up every second for 20 s', async () => {
    await throughFault('flap', () => proxy.flap(1_000));
  }, 180_000);

  it("Postgres terminating the server's sessions mid-transaction for 20 s", async () => {
    await throughFault('terminate', () => terminateEvery(sql, 500));
  }, 180_000);
});
