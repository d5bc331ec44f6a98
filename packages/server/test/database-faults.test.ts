import { createServer } from 'node:net';
import { RemoteError, routes } from '@drover/protocol';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { startTcpProxy, type TcpProxy } from '../../../test/harness/tcp-proxy.js';
import { createPool, inTransaction } from '../src/db/pool.js';
import { isTransientDbError } from '../src/db/transient-error.js';
import type { DroverServer } from '../src/index.js';
import { AppAuthenticator } from '../src/store/apps.js';
import { ApiClient, readyzUntil } from './support/api-client.js';
import { FakeWorker } from './support/fake-worker.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

// Postgres faults seen from inside the server: which errors are worth a retry,
// a session killed mid-transaction, and what a worker's report hears while
// Postgres is away.

const db = useDatabase();
const nats = useNats();
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(() => sql.end());

/** The error a query raises, from real Postgres. */
const failure = (run: () => Promise<unknown>) =>
  run().then(
    () => expect.unreachable('the query should have failed'),
    (err: unknown) => err,
  );

/** Resolves once a session other than `sql` waits on an advisory lock, with its pid. */
async function blockedOnAdvisoryLock(): Promise<number> {
  const until = Date.now() + 10_000;
  for (;;) {
    const { rows } = await sql.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
       AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
    );
    if (rows[0]) return rows[0].pid;
    if (Date.now() > until) throw new Error('no session ever waited on the advisory lock');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('database errors', () => {
  it('tells transient faults (retry) from bugs (do not)', async () => {
    await sql.query('CREATE TEMP TABLE once (id int PRIMARY KEY)');
    await sql.query('INSERT INTO once VALUES (1)');
    const duplicate = await failure(() => sql.query('INSERT INTO once VALUES (1)'));
    expect((duplicate as { code: string }).code).toBe('23505');
    expect(isTransientDbError(duplicate)).toBe(false);
    expect(isTransientDbError(await failure(() => sql.query('SELEC 1')))).toBe(false);
    expect(isTransientDbError(await failure(() => sql.query('SELECT 1/0')))).toBe(false);

    const victim = new pg.Client({ connectionString: db.url });
    victim.on('error', () => undefined);
    await victim.connect();
    const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const sleeping = failure(() => victim.query('SELECT pg_sleep(30)'));
    await sql.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    const terminated = await sleeping;
    expect((terminated as { code: string }).code).toBe('57P01');
    expect(isTransientDbError(terminated)).toBe(true);

    // Nothing listens on a port just closed: connection refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = new pg.Client({ host: '127.0.0.1', port, user: 'x', database: 'x' });
    expect(isTransientDbError(await failure(() => refused.connect()))).toBe(true);
  });

  it('survives Postgres killing a session in the middle of a transaction', async () => {
    const pool = createPool(db.url, 2, testLogger('pool'));
    try {
      await sql.query('SELECT pg_advisory_lock(4242)');
      const tx = failure(() =>
        inTransaction(pool, (client) => client.query('SELECT pg_advisory_xact_lock(4242)')),
      );
      await sql.query('SELECT pg_terminate_backend($1)', [await blockedOnAdvisoryLock()]);
      await sql.query('SELECT pg_advisory_unlock(4242)');
      // Without a listener on the checked-out client, its 'error' event kills the process here.
      expect(isTransientDbError(await tx)).toBe(true);
      // The broken client is not handed out again: the pool works on.
      const again = await inTransaction(pool, (client) => client.query('SELECT 1 AS one'));
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  describe('a worker talking to a server whose Postgres goes away', () => {
    let proxy: TcpProxy;
    let server: DroverServer;
    let app: TestApp;

    beforeAll(async () => {
      const pgUrl = new URL(db.url);
      proxy = await startTcpProxy(Number(pgUrl.port));
      pgUrl.port = String(proxy.port);
      server = await startTestServer(pgUrl.toString());
      await server.ready;
      app = await createTestApp(server, nats.app);
    });
    afterAll(async () => {
      await server?.stop();
      await proxy?.close();
    });

    it('is answered with a retryable DATABASE_UNAVAILABLE, so it tries again', async () => {
      proxy.disable();
      const report = {
        instanceId: '1',
        epoch: 1,
        workerId: 'w-1',
        status: 'SUCCEEDED' as const,
        result: 'done',
        progress: { total: 1, succeeded: 1, failed: 0, running: 0 },
        reportedAt: Date.now(),
      };
      const err = await failure(() =>
        nats.bus.ask(routes.server.reportInstanceStatus, { app: app.name }, report),
      );
      expect(err).toBeInstanceOf(RemoteError);
      expect(err).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryable: true });
      proxy.enable();
      await readyzUntil(new ApiClient(server.url), true);
      // Back: the same report gets a real answer (no such run here).
      const reply = await nats.bus.ask(
        routes.server.reportInstanceStatus,
        { app: app.name },
        report,
      );
      expect(reply).toMatchObject({ accepted: false, stop: true });
    });

    it('still counts a worker secret proven before, while Postgres is away', async () => {
      const pgUrl = new URL(db.url);
      pgUrl.port = String(proxy.port);
      const pool = createPool(pgUrl.toString(), 1, testLogger('auth'));
      const auth = new AppAuthenticator(pool, 0); // every check goes to Postgres
      try {
        expect(await auth.authenticate(app.name, app.secret)).toMatchObject({ name: app.name });
        proxy.disable();
        expect(await auth.authenticate(app.name, app.secret)).toMatchObject({ name: app.name });
        // Nothing proven before: still an error, not a pass.
        await expect(auth.authenticate(app.name, 'another-secret')).rejects.toThrow();
      } finally {
        proxy.enable();
        await pool.end();
      }
    });

    it('has its accept recorded once Postgres is back, deadline included', async () => {
      const outage = () => new Promise((r) => setTimeout(r, 1_000)); // the fault's length, not a wait for an event
      const worker = await new FakeWorker(await nats.connect('worker'), {
        app: app.name,
        workerId: 'accepting',
        processors: ['accepted'],
        reportProgress: false,
        // Listed in heartbeats, as a worker does: RUNNING is not cut short as silent.
        trackRuns: true,
        // Postgres goes away between the worker's accept and the server recording it.
        onRunJob: () => {
          proxy.disable();
          void outage().then(() => proxy.enable());
          return 'accept';
        },
      }).start();
      try {
        const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
          name: 'accepted',
          timeExpressionType: 'API',
          processorName: 'accepted',
          instanceTimeoutMs: 600_000,
        });
        const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
        const started = await waitForInstance(app, run.body.id, (i) => i.status === 'RUNNING');
        // Only the dispatcher's own write of the accept sets the deadline (a
        // sweeper or progress report finding the run later cannot).
        expect(started).toMatchObject({ epoch: 1, workerId: 'accepting' });
        expect(started.deadlineAt).toBeTypeOf('number');
        expect(worker.runs.map((r) => r.epoch)).toEqual([1]);
      } finally {
        await worker.vanish();
      }
    });
  });
});
