import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routeSubject, routes, SERVER_QUEUE_GROUP } from '@drover/protocol';
import {
  errors,
  type NatsConnection,
  nkeyAuthenticator,
  nkeys,
  type PermissionViolationError,
} from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { runCli } from '../harness/drover-cli.js';
import {
  type ClusterApp,
  type DroverCluster,
  startDroverCluster,
} from '../harness/drover-cluster.js';
import { natsUrl, uniqueName, useDatabase } from '../harness/fixtures.js';

// NATS with authorization, end to end (real nats-server, drover-server managing
// its users, drover-worker processes): nobody gets in without a key, app A's
// worker key can neither read, answer nor inject into app B, a worker with a
// key NATS does not accept (or a key of another app) exits 4 without work, and
// runs of both apps still succeed.

const db = useDatabase();
let cluster: DroverCluster;
let appA: ClusterApp;
let appB: ClusterApp;
const opened: NatsConnection[] = [];

/** A client of the test holding `seed` (a worker key of an app, or the server's). */
async function clientWith(name: string, seed?: Uint8Array): Promise<NatsConnection> {
  const nc = await cluster.nats.connect(name, seed);
  opened.push(nc);
  return nc;
}

const seedOf = async (app: ClusterApp) =>
  new TextEncoder().encode((await readFile(app.workerSeedFile, 'utf8')).trim());

/** The permission violations NATS reports on `nc` (asynchronously, as -ERR), as they come. */
function violations(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status())
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError)
        seen.push(s.error);
  })();
  return seen;
}

/** Waits (by round trips, no sleep) until NATS has reported a violation for `subject`. */
async function untilDenied(
  nc: NatsConnection,
  seen: PermissionViolationError[],
  operation: 'publish' | 'subscription',
  subject: string,
): Promise<void> {
  const until = Date.now() + 10_000;
  while (!seen.some((v) => v.operation === operation && v.subject === subject)) {
    if (Date.now() > until)
      throw new Error(`NATS did not deny ${operation} ${subject}; saw ${JSON.stringify(seen)}`);
    // -ERR comes before the PONG of a flush sent after the denied operation.
    await nc.flush();
  }
}

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  appA = cluster.app;
  appB = await cluster.createApp(uniqueName('b'));
  await Promise.all([
    cluster.startWorker('sec-a'),
    cluster.startWorker('sec-b', [], { app: appB }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all(opened.map((nc) => nc.close().catch(() => undefined)));
  await cluster?.stop();
});

describe('NATS authorization', () => {
  it('refuses a client without credentials, and one with a key it does not know', async () => {
    await expect(connect({ servers: cluster.nats.url })).rejects.toBeInstanceOf(
      errors.AuthorizationError,
    );
    const stranger = nkeys.createUser().getSeed();
    await expect(
      connect({
        servers: cluster.nats.url,
        authenticator: nkeyAuthenticator(stranger),
      }),
    ).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  it("does not let app A's worker key read app B's subjects, or the servers' (no queue-group stealing)", async () => {
    const nc = await clientWith('a-reader', await seedOf(appA));
    const seen = violations(nc);
    const forbidden = [
      `drover.${appB.name}.worker.>`,
      `drover.${appB.name}.server.>`,
      `drover.${appB.name}.events.>`,
      `_INBOX_${appB.name}.>`,
      `_INBOX.>`,
      // Its own app's server subjects: reports of other workers, and the servers' queue group.
      `drover.${appA.name}.server.>`,
    ];
    for (const subject of forbidden) {
      nc.subscribe(subject);
      await untilDenied(nc, seen, 'subscription', subject);
    }
    const reportSubject = routeSubject(routes.server.reportInstanceStatus, { app: appA.name });
    nc.subscribe(reportSubject, { queue: SERVER_QUEUE_GROUP });
    await untilDenied(nc, seen, 'subscription', reportSubject);
    // What a worker of A needs stays allowed.
    nc.subscribe(`drover.${appA.name}.worker.>`);
    await nc.flush();
    expect(seen.map((v) => v.subject)).not.toContain(`drover.${appA.name}.worker.>`);
  });

  it("does not let app A's worker key answer or inject into app B, nor send what only servers send", async () => {
    const watcher = await clientWith('server-side-watcher');
    const arrived: string[] = [];
    const sub = watcher.subscribe('drover.>', {
      callback: (_e, m) => void arrived.push(m.subject),
    });
    await watcher.flush();
    const nc = await clientWith('a-injector', await seedOf(appA));
    const seen = violations(nc);
    const injected = [
      routeSubject(routes.server.reportInstanceStatus, { app: appB.name }),
      routeSubject(routes.server.workerHeartbeat, { app: appB.name }),
      routeSubject(routes.tt.runJob, { app: appB.name, workerId: 'sec-b' }),
      routeSubject(routes.tt.mapTask, { app: appB.name, workerId: 'sec-b' }),
      routeSubject(routes.pt.startTasks, { app: appB.name, workerId: 'sec-b' }),
      `drover.${appB.name}.events.worker`,
      // Even in its own app, run_job(s) / stop_instance come from servers only.
      routeSubject(routes.tt.runJob, { app: appA.name, workerId: 'sec-a' }),
      routeSubject(routes.tt.runJobs, { app: appA.name, workerId: 'sec-a' }),
      routeSubject(routes.tt.stopInstance, { app: appA.name, workerId: 'sec-a' }),
    ];
    for (const subject of injected) {
      nc.publish(subject, 'forged');
      await untilDenied(nc, seen, 'publish', subject);
    }
    // One connection's messages arrive in order: once this allowed one is seen, none forged can follow.
    const marker = `drover.${appA.name}.events.security-marker`;
    nc.publish(marker, 'allowed');
    const until = Date.now() + 10_000;
    while (!arrived.includes(marker)) {
      if (Date.now() > until) throw new Error('the allowed marker never arrived');
      await watcher.flush();
    }
    sub.unsubscribe();
    expect(arrived.filter((s) => injected.includes(s))).toEqual([]);
  });

  it('makes a worker whose key NATS does not know exit 4, naming its app, without work', async () => {
    const file = join(cluster.nats.dir, 'unknown.nk');
    await writeFile(file, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 });
    const started = cluster.startWorker('sec-unknown-key', [], {
      env: { DROVER_NATS_NKEY_FILE: file },
    });
    await expect(started).rejects.toThrow(/exited with 4 before it was ready/);
    await expect(started).rejects.toThrow(
      new RegExp(`NATS refused the credentials of app ${appA.name}'s worker`),
    );
  });

  it("makes a worker of app B holding app A's key exit 4, naming app B, without work", async () => {
    const started = cluster.startWorker('sec-wrong-app', [], {
      app: appB,
      env: { DROVER_NATS_NKEY_FILE: appA.workerSeedFile },
    });
    await expect(started).rejects.toThrow(/exited with 4 before it was ready/);
    await expect(started).rejects.toThrow(
      new RegExp(`NATS denied app ${appB.name}'s worker the subscription`),
    );
    const workers = await appB.api.get(`/api/v1/apps/${appB.name}/workers`);
    expect(workers.body.workers.map((w: { workerId: string }) => w.workerId)).not.toContain(
      'sec-wrong-app',
    );
  });

  it('makes a worker exit 4 once its key is revoked (NATS drops it on reload)', async () => {
    const key = await appB.api.post(`/api/v1/apps/${appB.name}/worker-keys`, {});
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    const file = join(cluster.nats.dir, 'rotated-b.nk');
    await writeFile(file, key.body.seed as string, { mode: 0o600 });
    const worker = await cluster.startWorker('sec-revoked', [], {
      app: appB,
      env: { DROVER_NATS_NKEY_FILE: file },
    });
    const revoked = await appB.api.delete(
      `/api/v1/apps/${appB.name}/worker-keys/${key.body.publicKey as string}`,
    );
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(await worker.exited).toBe(4);
    expect(worker.tail()).toContain(`NATS no longer accepts app ${appB.name}'s worker key`);
  }, 60_000);

  it('makes drover monitor exit 4 on a key NATS does not know or that may not read events, and on a NATS without authentication', async () => {
    const stranger = join(cluster.nats.dir, 'monitor-stranger.nk');
    await writeFile(stranger, new TextDecoder().decode(nkeys.createUser().getSeed()), {
      mode: 0o600,
    });
    const refused = await runCli([
      'monitor',
      '--nats',
      cluster.nats.url,
      '--nats-nkey-file',
      stranger,
    ]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`NATS at ${cluster.nats.url} refused the credentials`);
    // A key NATS knows but that may not read events (a worker's): refused, not a silent watch.
    const workerKey = await runCli([
      'monitor',
      '--nats',
      cluster.nats.url,
      '--nats-nkey-file',
      appA.workerSeedFile,
    ]);
    expect(workerKey.code).toBe(4);
    expect(workerKey.stderr).toContain(
      `NATS at ${cluster.nats.url} refused this key the events of every app`,
    );
    // The suite's shared NATS lets anyone in: refused unless asked for.
    const open = await runCli(['monitor', '--nats', natsUrl()]);
    expect(open.code).toBe(4);
    expect(open.stderr).toMatch(/does not require authentication.*--insecure-nats/);
  });

  it('runs the jobs of both apps on their own workers', async () => {
    const runIn = async (app: ClusterApp, text: string) => {
      const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
        name: uniqueName('job'),
        timeExpressionType: 'API',
        processorName: 'echo',
      });
      expect(job.status, JSON.stringify(job.body)).toBe(201);
      const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {
        params: { text },
      });
      return waitForInstance(app, run.body.id, (i) => i.status === 'SUCCEEDED', 30_000);
    };
    const [a, b] = await Promise.all([runIn(appA, 'from a'), runIn(appB, 'from b')]);
    expect(a).toMatchObject({ result: 'from a', workerId: 'sec-a' });
    expect(b).toMatchObject({ result: 'from b', workerId: 'sec-b' });
  }, 60_000);
});
