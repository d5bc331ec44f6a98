import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type AuthorizedNats, startAuthorizedNats } from '../harness/authorized-nats.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { spawnDrover } from '../harness/drover-process.js';
import { useDatabase } from '../harness/fixtures.js';
import { startNatsServer } from '../harness/nats-server.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// A drover-worker the servers refuse (no such app, or its worker id held by
// another live process) says so and exits 4 at once (instead of logging
// "running" and never getting work); one that finds no server keeps asking,
// and joins once a server answers.

const db = useDatabase();
let nats: AuthorizedNats;
let cluster: DroverCluster;

beforeAll(async () => {
  // Its own NATS: the test stops its server, and no other file's server may answer meanwhile.
  nats = await startAuthorizedNats();
  cluster = await startDroverCluster(db.url, { nats });
});
afterAll(async () => {
  try {
    await cluster?.stop();
  } finally {
    await nats?.stop();
  }
});

describe('drover-worker refused by the servers', () => {
  // With NATS authorization its key (of another app) cannot even listen for
  // no_such_app's runs; the servers' own "does not exist" answer is tested on an
  // open NATS in packages/worker/test/worker-check.test.ts.
  it('exits 4 with a message naming the app when the app does not exist', async () => {
    const started = cluster.startWorker('w-wrong', [], { env: { DROVER_APP: 'no_such_app' } });
    // spawnReady rejects when the process exits before its "running" line.
    await expect(started).rejects.toThrow(/exited with 4 before it was ready/);
    await expect(started).rejects.toThrow(/NATS denied app no_such_app's worker the subscription/);
  });

  it('exits 4 when another live process holds its worker id, which keeps the work', async () => {
    const holder = await cluster.startWorker('w-twice');
    await cluster.untilWorkersAlive(1);
    const second = cluster.startWorker('w-twice');
    try {
      await expect(second).rejects.toThrow(/exited with 4 before it was ready/);
      await expect(second).rejects.toThrow(
        new RegExp(`worker id w-twice of app ${cluster.app.name} is held by another live process`),
      );
    } finally {
      // Had it started after all, it must not outlive the test.
      await second.then((p) => stopProcess(p, 'SIGKILL')).catch(() => undefined);
    }
    const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'holder' } });
    const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
    expect(done).toMatchObject({ result: 'holder', workerId: 'w-twice' });
    expect(holder.child.exitCode).toBeNull();
    await stopProcess(holder);
    cluster.workers.delete('w-twice');
  }, 60_000);

  it('keeps asking while no server answers (an outage is not a refusal), then joins', async () => {
    await stopProcess(cluster.server, 'SIGKILL');
    const worker = await cluster.startWorker('w-patient');
    await worker.waitFor(
      /no server accepted worker w-patient of app .* over NATS at nats:\/\/127\.0\.0\.1/,
    );
    expect(worker.child.exitCode).toBeNull();
    await cluster.restartServer();
    await worker.waitFor(/"msg":"worker accepted"/);
    const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'joined' } });
    const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
    expect(done).toMatchObject({ result: 'joined', workerId: 'w-patient' });
  }, 60_000);

  it('exits 4 when NATS refuses its credentials, instead of retrying forever', async () => {
    const guarded = await startNatsServer({
      config: 'authorization { user: drover, password: right-password }',
    });
    let started: Promise<ReadyProcess> | undefined;
    try {
      started = spawnDrover(
        'worker',
        ['--processors', 'test/fixtures/processors.ts', '--worker-id', 'w-nats-refused'],
        {
          DROVER_NATS_URL: guarded.url,
          DROVER_NATS_USER: 'drover',
          DROVER_NATS_PASS: 'wrong-password',
          DROVER_APP: cluster.app.name,
        },
        /"msg":"drover-worker running"/,
      );
      await expect(started).rejects.toThrow(/exited with 4 before it was ready/);
      await expect(started).rejects.toThrow(/NATS refused the credentials/);
      await expect(started).rejects.not.toThrow(/wrong-password/);
    } finally {
      // Had it started after all, it must not outlive the test.
      await started?.then((p) => stopProcess(p, 'SIGKILL')).catch(() => undefined);
      await guarded.stop();
    }
  });
});
