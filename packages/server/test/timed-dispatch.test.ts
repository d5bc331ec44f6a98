import { decode, Header, routeSubject, routes, ttMessages } from '@drover/protocol';
import type { Subscription } from '@nats-io/nats-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../../worker/src/index.js';
import type { DroverServer } from '../src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

// A timed run (here a delayed API run; CRON slots take the same path) of a
// job without a concurrency limit is sent to its worker `dispatchLeadMs`
// ahead of its time, with `startInMs`; the worker holds it and starts it on
// time, its deadline counts from its time, and its started_at is the
// processor's start. A stop while it is held means it never starts. A job
// with a concurrency limit still goes at its time (it is counted then).

const db = useDatabase();
const nats = useNats();
const WORKER = 'timed-1';
const LEAD_MS = 1_500;
const DELAY_MS = 2_500;
const TIMEOUT_MS = 60_000;
// A relative start delay is early by at most the message's transit and the
// server's estimate of the database clock: a few ms, far under this.
const CLOCK_SLACK_MS = 50;
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker;
let second: DroverWorker | undefined;
let sql: pg.Client;

/** When each instance's processor started (ms since the epoch). */
const startedAt = new Map<string, number>();

interface Sent {
  instanceId: string;
  startInMs?: number;
  /** The batch's `sentAt`, which `startInMs` counts from. */
  sentAt?: number;
  /** The batch's Drover-Sent-At header: the server's clock once it was encoded. */
  publishedAt: string | undefined;
  /** When this test's own subscriber saw the message. */
  seenAt: number;
}
const sent: Sent[] = [];
let sniff: Subscription;

function startTheWorker(workerId: string): Promise<DroverWorker> {
  return startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    workerId,
    concurrency: 4,
    processors: [
      basicProcessor({
        name: 'stamp',
        process: (ctx) => {
          startedAt.set(ctx.instanceId, Date.now());
          return 'ok';
        },
      }),
    ],
    logger: testLogger(workerId),
  });
}

beforeAll(async () => {
  server = await startTestServer(db.url, { dispatchLeadMs: LEAD_MS });
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  worker = await startTheWorker(WORKER);
  const onSubject = (route: typeof routes.tt.runJob | typeof routes.tt.runJobs) =>
    routeSubject(route, { app: app.name, workerId: WORKER });
  sniff = nats.nc.subscribe(`${onSubject(routes.tt.runJobs)}`, {
    callback: (_err, msg) => {
      // Whole runs, as the worker's handler sees them (the batch comes in the compact form).
      const body = ttMessages.RunJobs.parse(decode(msg.data));
      const publishedAt = msg.headers?.get(Header.SENT_AT);
      for (const r of body.runs)
        sent.push({
          instanceId: r.instanceId,
          startInMs: r.startInMs,
          sentAt: body.sentAt,
          publishedAt,
          seenAt: Date.now(),
        });
    },
  });
  await nats.nc.flush();
});
afterAll(async () => {
  sniff?.unsubscribe();
  await worker?.stop();
  await second?.stop();
  await server.stop();
  await sql.end();
});

async function createJob(extra: Record<string, unknown> = {}): Promise<string> {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    processorName: 'stamp',
    instanceTimeoutMs: TIMEOUT_MS,
    ...extra,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  return job.body.id as string;
}

async function runLater(jobId: string, delayMs: number): Promise<string> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/run`, { delayMs });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** The run's time, as the database holds it (ms since the epoch). */
async function dueAt(id: string): Promise<number> {
  const { rows } = await sql.query<{ due: Date }>(
    'SELECT next_dispatch_at AS due FROM instances WHERE id = $1',
    [id],
  );
  return (rows[0] as { due: Date }).due.getTime();
}

describe('timed runs sent ahead of their time', () => {
  it('reach the worker ahead, start on time, with the deadline and started_at of their time', async () => {
    const jobId = await createJob();
    // The worker is known to the server once a first run has gone to it.
    const first = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/run`, {});
    await waitForInstance(app, first.body.id, (i) => i.status === 'SUCCEEDED');

    const id = await runLater(jobId, DELAY_MS);
    const due = await dueAt(id);
    // Sent ahead and accepted: RUNNING (held by its worker) before its time.
    const held = await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    expect(startedAt.has(id)).toBe(false);
    expect(Date.now()).toBeLessThan(due);
    const message = sent.find((s) => s.instanceId === id);
    expect(message?.startInMs).toBeGreaterThan(0);
    expect(message?.startInMs).toBeLessThanOrEqual(LEAD_MS);
    // Counted from a whole-ms `sentAt`, the delay names the due time exactly:
    // runs due together start together whichever batch brought them.
    expect(Number.isInteger(message?.sentAt)).toBe(true);
    expect((message?.sentAt as number) + (message?.startInMs as number)).toBe(due);
    // Stamped again once encoded, for the worker to measure transit from.
    const publishedAt = Number(message?.publishedAt);
    expect(publishedAt).toBeGreaterThanOrEqual(message?.sentAt as number);
    expect(publishedAt).toBeLessThan((message?.sentAt as number) + CLOCK_SLACK_MS);
    // Its timeout counts from its time, not from the send.
    expect(held.deadlineAt).toBe(due + TIMEOUT_MS);

    const done = await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
    const started = startedAt.get(id) as number;
    expect(started).toBeGreaterThanOrEqual(due - CLOCK_SLACK_MS);
    // started_at is the processor's start, not the accept's.
    expect(done.startedAt).toBeGreaterThanOrEqual(due - CLOCK_SLACK_MS);
  });

  it('never starts a run stopped while its worker holds it', async () => {
    const jobId = await createJob();
    const id = await runLater(jobId, DELAY_MS);
    // A later run of the same job: once it has run, the stopped one's time has passed too.
    const after = await runLater(jobId, DELAY_MS + 500);
    await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    const stop = await app.api.post(`/api/v1/apps/${app.name}/instances/${id}/stop`, {});
    expect(stop.status, JSON.stringify(stop.body)).toBe(200);
    await waitForInstance(app, after, (i) => i.status === 'SUCCEEDED');
    expect(Date.now()).toBeGreaterThan(await dueAt(id));
    expect(startedAt.has(id)).toBe(false);
    await waitForInstance(app, id, (i) => i.status === 'STOPPED');
  });

  it('sends a run of a job with a concurrency limit at its time, not ahead', async () => {
    const jobId = await createJob({ maxConcurrentInstances: 1 });
    const id = await runLater(jobId, DELAY_MS);
    const due = await dueAt(id);
    await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
    const message = sent.find((s) => s.instanceId === id);
    // At its time: held by its worker for at most the ms or two it came early.
    expect(message?.startInMs ?? 0).toBeLessThanOrEqual(2);
    expect(message?.seenAt).toBeGreaterThanOrEqual(due - CLOCK_SLACK_MS);
  });

  it('keeps the time of a held run its draining worker hands back: another worker starts it then', async () => {
    second = await startTheWorker('timed-2');
    const jobId = await createJob();
    const id = await runLater(jobId, DELAY_MS);
    const due = await dueAt(id);
    const held = await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    // Whichever worker holds it drains now, before its time: it goes back to the server.
    const holder = held.workerId === WORKER ? worker : second;
    await holder.stop();
    if (holder === second) second = undefined;
    expect(Date.now()).toBeLessThan(due);
    const done = await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
    expect(done.workerId).not.toBe(held.workerId);
    expect(startedAt.get(id)).toBeGreaterThanOrEqual(due - CLOCK_SLACK_MS);
  });
});
