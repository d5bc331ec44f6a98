import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInbox, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { type NatsServer, startNatsServer } from '../harness/nats-server.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// A server and a worker given every kind of secret, each from a *_FILE: a
// database URL with a password, an admin token, a NATS user and password, an
// app secret. Their whole log output (at debug), $SRV.INFO, lifecycle events
// and the API's answers to a sample of calls, failing ones included, must
// hold none of them, nor a Postgres error's detail.

const db = useDatabase();
const mark = () => randomBytes(9).toString('hex');
const secrets = {
  databasePassword: `dbpw-${mark()}`,
  adminToken: `admin-${mark()}`,
  natsPassword: `natspw-${mark()}`,
  appSecret: `appsecret-${mark()}`,
  postgresDetail: `detail-${mark()}`,
};
const NATS_USER = 'drover';

let dir: string;
let nats: NatsServer;
let nc: NatsConnection;
let server: ReadyProcess;
let worker: ReadyProcess | undefined;
let serverUrl: string;
const seen: { where: string; text: string }[] = [];
const record = (where: string) => (text: string) => seen.push({ where, text });

/** Writes a 0600 file holding `value`; its path is what the process is given. */
async function secretFile(name: string, value: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return file;
}

/** An API call whose answer is recorded, whatever its status. */
async function call(
  method: string,
  path: string,
  token: string | undefined,
  body?: string,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${serverUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body,
  });
  const text = await res.text();
  record(`answer to ${method} ${path}`)(`${JSON.stringify([...res.headers])} ${text}`);
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-secrets-'));
  nats = await startNatsServer({
    config: `authorization { user: ${NATS_USER}, password: "${secrets.natsPassword}" }`,
  });
  // A job named "trip" fails in Postgres with a detail that must not be logged.
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`
    CREATE FUNCTION trip() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.name = 'trip' THEN
        RAISE EXCEPTION 'tripped' USING DETAIL = '${secrets.postgresDetail}',
          HINT = '${secrets.postgresDetail}', TABLE = 'jobs';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER trip BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION trip();`);
  await admin.end();
  // The test Postgres trusts loopback: the password is carried, not checked.
  const databaseUrl = new URL(db.url);
  databaseUrl.password = secrets.databasePassword;
  server = await spawnDrover(
    'server',
    ['--http-port', '0'],
    {
      DROVER_NATS_URL: nats.url,
      DROVER_NATS_USER: NATS_USER,
      DROVER_NATS_PASS_FILE: await secretFile('nats-pass', secrets.natsPassword),
      DROVER_DATABASE_URL_FILE: await secretFile('database-url', databaseUrl.toString()),
      DROVER_ADMIN_TOKEN_FILE: await secretFile('admin-token', secrets.adminToken),
      DROVER_LOG_LEVEL: 'debug',
    },
    /"msg":"server ready"/,
    [],
    record('server log'),
  );
  serverUrl = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  nc = await connect({ servers: nats.url, user: NATS_USER, pass: secrets.natsPassword });
});
afterAll(async () => {
  if (worker) await stopProcess(worker);
  await stopProcess(server);
  await nc?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('secrets', () => {
  it('never appear in logs, $SRV.INFO, events or API answers', async () => {
    const app = uniqueName('app');
    // Creating the app proves the admin token was read from its file.
    const created = await call(
      'POST',
      '/api/v1/apps',
      secrets.adminToken,
      JSON.stringify({ name: app, secret: secrets.appSecret }),
    );
    expect(created.status).toBe(201);
    const events = nc.subscribe(`drover.${app}.events.>`);
    void (async () => {
      for await (const m of events) record(`event ${m.subject}`)(new TextDecoder().decode(m.data));
    })();
    await nc.flush();

    worker = await spawnDrover(
      'worker',
      ['--processors', 'test/fixtures/processors.ts', '--worker-id', 'secret-keeper'],
      {
        DROVER_NATS_URL: nats.url,
        DROVER_NATS_USER: NATS_USER,
        DROVER_NATS_PASS_FILE: await secretFile('worker-nats-pass', secrets.natsPassword),
        DROVER_APP: app,
        DROVER_APP_SECRET_FILE: await secretFile('app-secret', secrets.appSecret),
        DROVER_LOG_LEVEL: 'debug',
      },
      /"msg":"drover-worker running"/,
      [],
      record('worker log'),
    );

    const base = `/api/v1/apps/${app}`;
    const job = await call(
      'POST',
      `${base}/jobs`,
      secrets.appSecret,
      JSON.stringify({ name: 'echo', timeExpressionType: 'API', processorName: 'echo' }),
    );
    expect(job.status).toBe(201);
    const run = await call(
      'POST',
      `${base}/jobs/${job.json.id}/run`,
      secrets.appSecret,
      JSON.stringify({ params: { text: 'hello' } }),
    );
    // A database row, not an event: polled (each answer recorded too), within 20 s.
    const until = Date.now() + 20_000;
    for (;;) {
      const instance = await call('GET', `${base}/instances/${run.json.id}`, secrets.appSecret);
      if (instance.json.status === 'SUCCEEDED') break;
      expect(Date.now()).toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 100));
    }
    await call('GET', `${base}/instances/${run.json.id}/logs`, secrets.appSecret);
    await call('GET', `${base}/workers`, secrets.appSecret);

    // Failing calls: wrong tokens, bad input, unknown ids, and a Postgres error with a detail.
    expect((await call('POST', '/api/v1/apps', 'not-the-admin-token', '{}')).status).toBe(401);
    expect((await call('POST', '/api/v1/apps', secrets.adminToken, '{"name":"x"}')).status).toBe(
      400,
    );
    expect((await call('GET', `${base}/jobs`, 'not-the-app-secret')).status).toBe(401);
    expect((await call('GET', `${base}/instances/999999`, secrets.appSecret)).status).toBe(404);
    expect((await call('POST', `${base}/jobs`, secrets.appSecret, '{"name":')).status).toBe(400);
    const tripped = await call(
      'POST',
      `${base}/jobs`,
      secrets.appSecret,
      JSON.stringify({ name: 'trip', timeExpressionType: 'API', processorName: 'echo' }),
    );
    expect(tripped.status).toBe(500);
    // The Postgres error is logged, by its code and table.
    const logged = await server.waitFor(/"msg":"request failed"/);
    expect(JSON.parse(logged).err).toMatchObject({ code: 'P0001', table: 'jobs' });

    // $SRV.INFO from the server and the worker.
    const inbox = createInbox();
    const infos = nc.subscribe(inbox);
    nc.publish('$SRV.INFO', '', { reply: inbox });
    const names = new Set<string>();
    for await (const m of infos) {
      const text = new TextDecoder().decode(m.data);
      record('$SRV.INFO')(text);
      names.add(JSON.parse(text).name);
      if (names.has('drover-server') && names.has('drover-worker')) break;
    }
    await stopProcess(worker);
    worker = undefined;
    events.unsubscribe();

    // Everything was looked at: both logs, events, both $SRV.INFO answers.
    for (const where of ['server log', 'worker log', '$SRV.INFO'])
      expect(seen.filter((s) => s.where === where).length).toBeGreaterThanOrEqual(2);
    expect(seen.some((s) => s.where.startsWith('event '))).toBe(true);
    for (const [name, value] of Object.entries(secrets)) {
      const leaks = seen.filter((s) => s.text.includes(value)).map((s) => s.where);
      expect({ secret: name, leaks }).toEqual({ secret: name, leaks: [] });
    }
  });
});
