import { decode, routeSubject, routes, ttMessages } from '@drover/protocol';
import type { Subscription } from '@nats-io/nats-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../../worker/src/index.js';
import type { DroverServer } from '../src/index.js';
import { markAcceptedMany } from '../src/store/instance-transitions.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

// Runs due together reach a worker in ONE run_jobs message; the worker
// starts what its slots allow and queues the rest; the server records every
// accept of the batch in one write, with the deadline set at the claim; and a
// queued run whose accept write was lost is found by the sweeper as owned.

const db = useDatabase();
const nats = useNats();
const WORKER = 'batch-1';
const RUNS = 40;
const CONCURRENCY = 4;
// Long enough that a dispatch moved a minute back (a lost accept, below) is not past it.
const TIMEOUT_MS = 600_000;
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker | undefined;
let sql: pg.Client;

/** Instance ids whose processor started, in order; each holds until released. */
const started: string[] = [];
const gates = new Map<string, () => void>();
const release = (id: string) => gates.get(id)?.();

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(async () => {
  for (const open of gates.values()) open();
  await worker?.stop();
  await server.stop();
  await sql.end();
});

function startTheWorker(): Promise<DroverWorker> {
  return startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    workerId: WORKER,
    concurrency: CONCURRENCY,
    maxQueuedRuns: 100,
    processors: [
      basicProcessor({
        name: 'holds',
        process: (ctx) =>
          new Promise<string>((resolve) => {
            started.push(ctx.instanceId);
            gates.set(ctx.instanceId, () => resolve('released'));
          }),
      }),
    ],
    log: testLogger(WORKER),
  });
}

/** Counts the messages and runs arriving on a worker route (a second subscriber sees them too). */
interface Seen {
  messages: number;
  /** Messages in the compact form (job fields once, `jobs` and `compact`). */
  compact: number;
  /** Job entries those carried (`jobs`). */
  jobEntries: number;
  /** Instance ids of the runs carried, in order. */
  runs: string[];
  sub: Subscription;
}
function count(subject: string): Seen {
  const seen = { messages: 0, compact: 0, jobEntries: 0, runs: [] as string[] } as Seen;
  seen.sub = nats.nc.subscribe(subject, {
    callback: (_err, msg) => {
      seen.messages++;
      const body = decode(msg.data) as {
        compact?: unknown[];
        jobs?: unknown[];
        instanceId?: string;
      };
      if (body.compact) seen.compact++;
      seen.jobEntries += body.jobs?.length ?? 0;
      const runs = subject.endsWith(routes.tt.runJobs.handler)
        ? ttMessages.RunJobs.parse(body).runs
        : [body];
      for (const run of runs) if (run.instanceId) seen.runs.push(run.instanceId);
    },
  });
  return seen;
}

/** The burst's instance ids. */
let burst: string[] = [];

describe('batched dispatch to a real worker', () => {
  it('sends a burst as ONE run_jobs, queues beyond concurrency, records the accepts in one write', async () => {
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'holds',
      instanceTimeoutMs: TIMEOUT_MS,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    worker = await startTheWorker();
    // The worker is known to the server once a run of the job dispatches to it.
    const first = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
    await waitForInstance(app, first.body.id, (i) => i.status === 'RUNNING');
    release(first.body.id);
    await waitForInstance(app, first.body.id, (i) => i.status === 'SUCCEEDED');
    started.length = 0;

    const batches = count(routeSubject(routes.tt.runJobs, { app: app.name, workerId: WORKER }));
    const singles = count(routeSubject(routes.tt.runJob, { app: app.name, workerId: WORKER }));
    const reports = count(routeSubject(routes.server.reportInstanceStatus, { app: app.name }));
    await nats.nc.flush();
    // A burst of due runs written at once (as CRON slots, or a bulk API call): one scan finds them all.
    const { rows: inserted } = await sql.query<{ id: string }>(
      `INSERT INTO instances (app_id, job_id, status, trigger_type, params, next_dispatch_at, due_at)
       SELECT j.app_id, j.id, 'WAITING_DISPATCH', 'API', 'null', now(), now()
       FROM jobs j, generate_series(1, $2) WHERE j.id = $1 RETURNING id`,
      [job.body.id, RUNS],
    );
    const ids = inserted.map((r) => r.id);
    burst = ids;

    // Every run is RUNNING; the queued ones sent no report: only the accept write made them so.
    for (const id of ids) await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    expect(batches.messages).toBe(1);
    // The worker's heartbeat says it takes the compact form: the job's fields went once.
    expect(batches.compact).toBe(1);
    expect(batches.jobEntries).toBe(1);
    expect([...batches.runs].sort()).toEqual([...ids].sort());
    expect(singles.messages).toBe(0);
    expect(started).toHaveLength(CONCURRENCY);
    // In the order the worker received them.
    const queued = batches.runs.filter((id) => !started.includes(id));
    expect(queued).toHaveLength(RUNS - CONCURRENCY);
    expect(reports.messages).toBeLessThanOrEqual(CONCURRENCY);

    // Rows written by one statement share its transaction id; the deadline came with the claim.
    const { rows } = await sql.query<{ writes: string; deadlines: string; off: string }>(
      `SELECT count(DISTINCT xmin::text) AS writes,
         count(*) FILTER (WHERE deadline_at IS NOT NULL) AS deadlines,
         count(*) FILTER (WHERE deadline_at - dispatched_at = make_interval(secs => $2 / 1000.0)) AS off
       FROM instances WHERE id = ANY($1::bigint[])`,
      [queued, TIMEOUT_MS],
    );
    expect(rows[0]).toEqual({
      writes: '1',
      deadlines: String(queued.length),
      off: String(queued.length),
    });
    for (const c of [batches, singles, reports]) c.sub.unsubscribe();

    // Slots free: queued runs start in arrival order.
    const before = started.length;
    for (const id of started.slice(0, 2)) {
      release(id);
      await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
    }
    await waitForInstance(app, queued[1] as string, () => started.length >= before + 2);
    expect(started.slice(before, before + 2)).toEqual(queued.slice(0, 2));
  });

  it('keeps queued runs RUNNING past the silence bound: the worker’s heartbeats list them', async () => {
    const waiting = burst.filter((id) => !started.includes(id));
    expect(waiting.length).toBeGreaterThan(0);
    // The non-event is the bound: every queued run silent for over 2 × silentMs, swept meanwhile.
    const silentMs = server.config.silentMs;
    await new Promise((r) => setTimeout(r, 2 * silentMs + 2 * server.config.sweepIntervalMs));
    const { rows: now } = await sql.query<{ status: string }>(
      `SELECT status FROM instances WHERE id = ANY($1::bigint[])`,
      [waiting],
    );
    expect(now.map((r) => r.status)).toEqual(waiting.map(() => 'RUNNING'));
  });

  it('confirms a queued run whose accept write was lost, without dispatching it again', async () => {
    const notStarted = burst.filter((id) => !started.includes(id)).at(-1) as string;
    expect(notStarted).toBeDefined();
    // As if the accept had been lost: still waiting for the worker, long past the accept bound.
    await sql.query(
      `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', started_at = NULL,
         dispatched_at = now() - interval '1 minute' WHERE id = $1`,
      [notStarted],
    );
    const confirmed = await waitForInstance(app, notStarted, (i) => i.status === 'RUNNING');
    expect(confirmed.epoch).toBe(1);

    // Every run ends once released, each at its first epoch (nothing ran twice).
    const all = burst.map((id) => ({ id }));
    while (started.length < all.length) {
      for (const id of started) release(id);
      await waitForInstance(app, started.at(-1) as string, (i) => i.status === 'SUCCEEDED');
    }
    for (const id of started) release(id);
    for (const { id } of all) {
      const done = await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
      expect(done.epoch, id).toBe(1);
    }
    expect(new Set(started).size).toBe(all.length);
  });

  it('commits the accepts without waiting for the WAL flush (that transaction only)', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const client = await pool.connect();
    const setting = async () =>
      (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]
        ?.synchronous_commit;
    try {
      await client.query('SET synchronous_commit = on');
      await client.query('BEGIN');
      const id = burst[0] as string;
      // An accept to record (all rolled back below).
      await client.query(`UPDATE instances SET status = 'WAITING_WORKER_RECEIVE' WHERE id = $1`, [
        id,
      ]);
      expect(await setting()).toBe('on');
      const recorded = await markAcceptedMany(client, [{ id, epoch: 1 }]);
      expect(recorded.map((i) => i.status)).toEqual(['RUNNING']);
      expect(await setting()).toBe('off');
      await client.query('ROLLBACK');
      expect(await setting()).toBe('on');
    } finally {
      client.release();
      await pool.end();
    }
  });
});
