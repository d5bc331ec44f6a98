import { randomBytes } from 'node:crypto';
import { SERVER_QUEUE_GROUP } from '@drover/protocol';
import { connectNats, isNatsAuthError } from '@drover/transport';
import { type NatsConnection, nkeys, PermissionViolationError } from '@nats-io/nats-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { type NatsServer, startNatsServer } from '../../../test/harness/nats-server.js';
import { type DroverServer, natsAuthConfig, reloadByPidFile, startServer } from '../src/index.js';
import { ApiClient } from './support/api-client.js';
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from './support/server-fixture.js';

// Every permission of docs/security.md, proven against a real nats-server
// whose authorization drover-server writes and reloads (SIGHUP via its pid file).

const db = useDatabase();
const RELOAD_LAG_MS = 300;
const serverKey = nkeys.createUser();
const monitorKey = nkeys.createUser();
const seen = { seeds: [] as string[], logLines: [] as string[] };
const opened: NatsConnection[] = [];
let nats: NatsServer;
let server: DroverServer;
let appA: TestApp;
let appB: TestApp;
let asServer: NatsConnection;

const bytes = (seed: string) => new TextEncoder().encode(seed);

/** A connection as `seed`'s user; refused credentials throw at once. */
async function connectAs(
  seed: Uint8Array | undefined,
  options: { inboxPrefix?: string; user?: string; pass?: string } = {},
): Promise<NatsConnection> {
  const nc = await connectNats({
    servers: nats.url,
    name: 'permission-probe',
    log: testLogger('probe'),
    nkeySeed: seed,
    failOnAuthError: true,
    ...options,
  });
  opened.push(nc);
  return nc;
}

/** Records a connection's permission errors, for awaiting the one a denied operation causes. */
function permissionErrors(nc: NatsConnection) {
  const errs: PermissionViolationError[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type !== 'error' || !(status.error instanceof PermissionViolationError)) continue;
      errs.push(status.error);
      for (const wake of waiters) wake();
    }
  })();
  return {
    /** Resolves once NATS refused `operation` on `subject` for this connection. */
    refused(operation: 'publish' | 'subscription', subject: string, timeoutMs = 5_000) {
      const match = () => errs.some((e) => e.operation === operation && e.subject === subject);
      return new Promise<void>((resolve, reject) => {
        if (match()) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`NATS did not refuse ${operation} on ${subject}`));
        }, timeoutMs);
        const check = () => {
          if (!match()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
  };
}

/**
 * Publishes each subject from `from`, then a marker it may publish; the
 * server-role observer gets the marker, so anything published before it
 * that passed NATS would have arrived first (one connection keeps order).
 */
async function delivered(
  from: NatsConnection,
  subjects: string[],
  marker: string,
): Promise<string[]> {
  const got: string[] = [];
  const sub = asServer.subscribe('>', {
    callback: (_err, m) => {
      if (subjects.includes(m.subject)) got.push(m.subject);
    },
  });
  const markerSeen = new Promise<void>((resolve) =>
    asServer.subscribe(marker, { max: 1, callback: () => resolve() }),
  );
  await asServer.flush();
  for (const subject of subjects) from.publish(subject, 'x');
  from.publish(marker, 'marker');
  await markerSeen;
  sub.unsubscribe();
  return got;
}

/** NATS answers a denied SUB with an error that closes the subscription. */
async function deniedSubscription(nc: NatsConnection, subject: string, queue?: string) {
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  let timer: NodeJS.Timeout | undefined;
  const closedWith = await Promise.race([
    sub.closed,
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still subscribed'), 5_000);
    }),
  ]);
  clearTimeout(timer);
  sub.unsubscribe();
  expect(closedWith, `${subject} ${queue ?? ''}`).toBeInstanceOf(PermissionViolationError);
}

beforeAll(async () => {
  // nats-server starts knowing only the drover-server's key (as an operator
  // or `drover up` writes it first); the server adds monitors and apps.
  nats = await startNatsServer({
    authorization: natsAuthConfig([{ publicKey: serverKey.getPublicKey(), role: 'server' }]),
  });
  // nats-server applies a SIGHUP when it gets to it; delaying the signal makes
  // that lag visible, so only the server's probe makes a new key usable at once.
  const sighup = reloadByPidFile(nats.pidFile);
  const reload = async () => {
    // A reload still pending when the file's nats-server has stopped has nothing to do.
    setTimeout(() => sighup().catch(() => undefined), RELOAD_LAG_MS);
  };
  const log = pino({ level: 'trace' }, { write: (line: string) => seen.logLines.push(line) });
  server = await startServer(
    {
      natsUrl: nats.url,
      databaseUrl: db.url,
      httpPort: 0,
      serverId: `perm-${randomBytes(3).toString('hex')}`,
      natsNkeySeed: serverKey.getSeed(),
      natsAuth: { file: nats.authFile as string, reload },
      natsMonitorKeys: [monitorKey.getPublicKey()],
      adminToken: TEST_ADMIN_TOKEN,
    },
    log,
  );
  await server.ready;
  appA = await createTestApp(server, uniqueName('a'));
  appB = await createTestApp(server, uniqueName('b'));
  seen.seeds.push(appA.workerKey.seed, appB.workerKey.seed);
  asServer = await connectAs(serverKey.getSeed());
});

afterAll(async () => {
  await Promise.all(opened.map((nc) => nc.close().catch(() => undefined)));
  await server?.stop();
  await nats?.stop();
});

describe('NATS authorization written by drover-server', () => {
  it('refuses a client without credentials, with an unknown key, or with an API token', async () => {
    for (const attempt of [
      () => connectAs(undefined),
      () => connectAs(nkeys.createUser().getSeed()),
      () => connectAs(undefined, { user: appA.name, pass: appA.secret }),
    ]) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isNatsAuthError(err)).toBe(true);
    }
  });

  it("lets a new app's worker key in as soon as the API answers", async () => {
    const app = await createTestApp(server, uniqueName('c'));
    seen.seeds.push(app.workerKey.seed);
    const nc = await connectAs(bytes(app.workerKey.seed), { inboxPrefix: `_INBOX_${app.name}` });
    expect(nc.info?.auth_required).toBe(true);
  });

  it("lets a worker of A talk to servers, to A's workers and answer what it receives", async () => {
    const worker = await connectAs(bytes(appA.workerKey.seed), {
      inboxPrefix: `_INBOX_${appA.name}`,
    });
    const a = `drover.${appA.name}`;
    const allowed = [
      `${a}.server.worker_heartbeat`,
      `${a}.worker.w2.pt.start_tasks`,
      `${a}.worker.w2.tt.map_task`,
      `${a}.worker.w2.tt.report_task_status`,
      `${a}.worker.w2.tt.release_tasks`,
      `${a}.worker.w2.tt.pt_heartbeat`,
      `${a}.events.instance`,
    ];
    expect(await delivered(worker, allowed, `${a}.server.marker`)).toEqual(allowed);

    // A server's ask reaches it and its answer goes back (allow_responses).
    worker.subscribe(`${a}.worker.w1.>`, { callback: (_err, m) => void m.respond('accepted') });
    // Only its own name: a catch-all would answer other tests' pings of drover-server first.
    worker.subscribe('$SRV.PING.test-worker', { callback: (_err, m) => void m.respond('pong') });
    await worker.flush();
    const answer = await asServer.request(`${a}.worker.w1.tt.run_job`, 'run', { timeout: 3_000 });
    expect(answer.string()).toBe('accepted');
    const pong = await asServer.request('$SRV.PING.test-worker', '', { timeout: 3_000 });
    expect(pong.string()).toBe('pong');

    // Its own asks get their answers in its inbox.
    asServer.subscribe(`${a}.server.echo_inbox`, {
      max: 1,
      callback: (_err, m) => void m.respond(m.reply ?? ''),
    });
    await asServer.flush();
    const reply = await worker.request(`${a}.server.echo_inbox`, '', { timeout: 3_000 });
    expect(reply.string()).toMatch(new RegExp(`^_INBOX_${appA.name}\\.`));
  });

  it('keeps a worker of A out of app B, out of servers subjects and out of others inboxes', async () => {
    const worker = await connectAs(bytes(appA.workerKey.seed), {
      inboxPrefix: `_INBOX_${appA.name}`,
    });
    const refusals = permissionErrors(worker);
    const a = `drover.${appA.name}`;
    const b = `drover.${appB.name}`;

    for (const subject of [
      `${b}.>`,
      `${b}.worker.w1.tt.run_job`,
      `${a}.server.>`,
      `${a}.server.report_instance_status`,
      '_INBOX.>',
      `_INBOX_${appB.name}.>`,
      '>',
    ]) {
      await deniedSubscription(worker, subject);
    }
    // Nor may it join the servers' queue group and swallow reports.
    await deniedSubscription(worker, `${a}.server.report_instance_status`, SERVER_QUEUE_GROUP);
    await deniedSubscription(worker, `${a}.server.>`, SERVER_QUEUE_GROUP);

    const forbidden = [
      `${a}.worker.w1.tt.run_job`,
      `${a}.worker.w1.tt.stop_instance`,
      `${a}.worker.w1.tt.query_instance_status`,
      `${b}.server.worker_heartbeat`,
      `${b}.worker.w1.pt.start_tasks`,
      `${b}.worker.w1.tt.map_task`,
      `${b}.events.instance`,
      '_INBOX.not_asked_by_anyone',
      'drover.servers.s1.status',
    ];
    expect(await delivered(worker, forbidden, `${a}.server.marker`)).toEqual([]);
    for (const subject of forbidden) await refusals.refused('publish', subject);
  });

  it('lets a monitor read events and $SRV, and nothing else', async () => {
    const monitor = await connectAs(monitorKey.getSeed(), { inboxPrefix: '_INBOX_MON' });
    const refusals = permissionErrors(monitor);
    const a = `drover.${appA.name}`;

    const event = new Promise<string>((resolve) =>
      monitor.subscribe(`${a}.events.>`, { max: 1, callback: (_err, m) => resolve(m.subject) }),
    );
    await monitor.flush();
    asServer.publish(`${a}.events.instance`, 'changed');
    expect(await event).toBe(`${a}.events.instance`);
    // drover-server's own monitoring endpoint answers the monitor's ping.
    const pong = await monitor.request('$SRV.PING.drover-server', '', { timeout: 3_000 });
    expect(pong.json<{ name: string }>().name).toBe('drover-server');
    // It may ask workers and servers for their status.
    const asks = [`${a}.worker.w1.status`, 'drover.servers.s1.status'];
    expect(await delivered(monitor, asks, '$SRV.PING.marker')).toEqual(asks);

    for (const subject of [`${a}.worker.>`, `${a}.server.>`, '_INBOX.>', `_INBOX_${appA.name}.>`]) {
      await deniedSubscription(monitor, subject);
    }
    const forbidden = [
      `${a}.server.worker_heartbeat`,
      `${a}.worker.w1.tt.run_job`,
      `${a}.worker.w1.pt.start_tasks`,
      `${a}.events.instance`,
    ];
    expect(await delivered(monitor, forbidden, '$SRV.PING.marker')).toEqual([]);
    for (const subject of forbidden) await refusals.refused('publish', subject);
  });

  it('manages worker keys with the app API token; a revoked key is dropped and refused', async () => {
    const path = `/api/v1/apps/${appA.name}/worker-keys`;
    const anonymous = new ApiClient(server.url);
    expect((await anonymous.post(path)).status).toBe(401);
    expect((await appB.api.post(path)).status).toBe(401);
    // A worker credential is not an API token.
    expect((await anonymous.withToken(appA.workerKey.seed).post(path)).status).toBe(401);

    const created = await appA.api.post<{ publicKey: string; seed: string }>(path);
    expect(created.status).toBe(201);
    const { publicKey, seed } = created.body;
    seen.seeds.push(seed);
    expect(publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
    // Usable once the API answered, with no retry.
    const rotated = await connectAs(bytes(seed), { inboxPrefix: `_INBOX_${appA.name}` });
    const original = await connectAs(bytes(appA.workerKey.seed), {
      inboxPrefix: `_INBOX_${appA.name}`,
    });

    const listed = await appA.api.get(path);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      { publicKey: appA.workerKey.publicKey, createdAt: expect.any(Number), revokedAt: null },
      { publicKey, createdAt: expect.any(Number), revokedAt: null },
    ]);
    // Public keys only: the seeds were shown once.
    expect(JSON.stringify(listed.body)).not.toContain(seed);
    expect(JSON.stringify(listed.body)).not.toContain(appA.workerKey.seed);

    // Another app's key, an unknown key and a malformed one are not A's to revoke.
    expect((await appA.api.delete(`${path}/${appB.workerKey.publicKey}`)).status).toBe(404);
    expect((await appA.api.delete(`${path}/${nkeys.createUser().getPublicKey()}`)).status).toBe(
      404,
    );
    const malformed = await appA.api.delete(`${path}/not-a-key`);
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).toContain('publicKey');
    expect((await appB.api.delete(`${path}/${publicKey}`)).status).toBe(401);

    const revoked = await appA.api.delete(`${path}/${publicKey}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ publicKey, revokedAt: expect.any(Number) });
    // nats-server drops the revoked key's connection on reload; the client
    // stops reconnecting once refused.
    await rotated.closed();
    const again = await connectAs(bytes(seed)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNatsAuthError(again)).toBe(true);
    // The app's other key, and app B's, are untouched.
    await original.flush();
    expect(original.isClosed()).toBe(false);
    await connectAs(bytes(appB.workerKey.seed), { inboxPrefix: `_INBOX_${appB.name}` });
  });

  it('never logs a seed', () => {
    const text = seen.logLines.join('\n');
    expect(text).toContain('NATS authorization reloaded');
    for (const seed of [...seen.seeds, new TextDecoder().decode(serverKey.getSeed())]) {
      expect(text).not.toContain(seed);
    }
  });
});
