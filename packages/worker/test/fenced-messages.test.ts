import {
  DroverError,
  decode,
  encode,
  routeSubject,
  routes,
  ttMessages,
  workerStatusSubject,
} from '@drover/protocol';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from '../../server/test/support/server-fixture.js';
import {
  basicProcessor,
  type DroverWorker,
  mapProcessor,
  mapReduceProcessor,
  startWorker,
} from '../src/index.js';

// Messages a worker acts on are fenced: what any NATS client of the app can
// replay (a run_job of a finished run or an older epoch, a start_tasks) or
// inject (map_task from a sender that does not hold the parent task) is
// refused, counted in the worker's status, and changes nothing.

const db = useDatabase();
const nats = useNats();
const WORKER = 'fence-1';
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker;

/** Executions per instance (basic) or per task id (map). */
const ran = new Map<string, number>();
const count = (key: string) => ran.set(key, (ran.get(key) ?? 0) + 1);
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});
let childrenWaiting = 0;
let allWaiting: () => void = () => undefined;
const childrenAtSecondAttempt = new Promise<void>((resolve) => {
  allWaiting = resolve;
});

const processors = [
  basicProcessor({
    name: 'counted',
    process: (ctx) => {
      count(ctx.instanceId);
      return 'ok';
    },
  }),
  mapProcessor({
    name: 'mapped',
    process: async (ctx) => {
      count(`${ctx.instanceId}/${ctx.taskId}`);
      if (ctx.isRootTask) await ctx.map([1, 2], 'leaf');
      return 'ok';
    },
  }),
  // Three children fail their first attempt, then wait at attempt 2 for the test.
  mapReduceProcessor({
    name: 'gated',
    process: async (ctx) => {
      if (ctx.isRootTask) {
        await ctx.map([1, 2, 3], 'child');
        return 'split';
      }
      if (ctx.attempt === 1) throw new Error('first attempt fails');
      if (++childrenWaiting === 3) allWaiting();
      await gate;
      return String(ctx.payload);
    },
    reduce: (_ctx, results) => `${results.length} results`,
  }),
];

type Captured = { data: Uint8Array; headers?: MsgHdrs; decoded: Record<string, unknown> };

/** Copies of the requests a worker receives on one route (a second subscriber sees them too). */
function capture(nc: NatsConnection, subject: string): { msgs: Captured[]; sub: Subscription } {
  const msgs: Captured[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      msgs.push({
        data: msg.data,
        headers: msg.headers,
        decoded: decode(msg.data) as Record<string, unknown>,
      });
    },
  });
  return { msgs, sub };
}

/** Sends captured bytes again, as any client on NATS could; the decoded reply. */
async function replay(subject: string, m: Pick<Captured, 'data' | 'headers'>) {
  const reply = await nats.nc.request(subject, m.data, { timeout: 3_000, headers: m.headers });
  return decode(reply.data) as {
    ok: boolean;
    data?: Record<string, unknown>;
    error?: { code: string };
  };
}

async function refused(): Promise<Record<string, number>> {
  const reply = await nats.nc.request(workerStatusSubject(app.name, WORKER), '', {
    timeout: 3_000,
  });
  return (reply.json() as { refused: Record<string, number> }).refused;
}

async function run(spec: Record<string, unknown>): Promise<string> {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    ...spec,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  return (await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {})).body.id;
}

type RunJob = z.output<typeof ttMessages.RunJob>;

/** The run of `instanceId` among captured `run_jobs` batches (the dispatcher sends runs in batches). */
function dispatchedRun(msgs: Captured[], instanceId: string): RunJob {
  // Whole runs, as the worker's handler sees them (a batch may come in the compact form).
  const runs = msgs.flatMap((m) => ttMessages.RunJobs.parse(m.decoded).runs);
  return runs.find((r) => r.instanceId === instanceId) as RunJob;
}

const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    workerId: WORKER,
    processors,
    log: testLogger(WORKER),
  });
});
afterAll(async () => {
  openGate();
  await worker.stop();
  await server.stop();
});

describe('fenced messages', () => {
  it('refuses a replayed run_job or run_jobs of a finished run, and one at an older epoch', async () => {
    const subject = routeSubject(routes.tt.runJob, { app: app.name, workerId: WORKER });
    const batchSubject = routeSubject(routes.tt.runJobs, { app: app.name, workerId: WORKER });
    const { msgs, sub } = capture(nats.nc, batchSubject);
    await nats.nc.flush();
    const id = await run({ processorName: 'counted' });
    expect(await waitForInstance(app, id, final)).toMatchObject({ status: 'SUCCEEDED' });
    sub.unsubscribe();
    const original = msgs.find((m) => dispatchedRun([m], id)) as Captured;
    const dispatched = dispatchedRun([original], id);
    const epoch = dispatched.epoch;
    expect(epoch).toBeGreaterThan(0);
    const before = await refused();

    // The batch again: answered, each run refused as fenced.
    const batch = await replay(batchSubject, original);
    expect(batch).toMatchObject({
      ok: true,
      data: { results: [{ instanceId: id, accepted: false, fenced: true }] },
    });
    const again = await replay(subject, { data: encode(dispatched), headers: original.headers });
    expect(again).toMatchObject({ ok: false, error: { code: 'FENCED' } });
    // The same run at the epoch before: a stale dispatch.
    const stale = await replay(subject, {
      data: encode({ ...dispatched, epoch: epoch - 1 }),
      headers: original.headers,
    });
    expect(stale).toMatchObject({ ok: false, error: { code: 'FENCED' } });
    expect((await refused()).runJob).toBe((before.runJob ?? 0) + 3);

    // A later run of the same processor ends; the replayed one never ran again.
    const later = await run({ processorName: 'counted' });
    expect(await waitForInstance(app, later, final)).toMatchObject({ status: 'SUCCEEDED' });
    expect(ran.get(id)).toBe(1);
  });

  it('does not run the tasks of a replayed start_tasks again', async () => {
    const runJobs = capture(
      nats.nc,
      routeSubject(routes.tt.runJobs, { app: app.name, workerId: WORKER }),
    );
    await nats.nc.flush();
    const id = await run({ processorName: 'mapped', executeType: 'MAP' });
    expect(await waitForInstance(app, id, final)).toMatchObject({ status: 'SUCCEEDED' });
    runJobs.sub.unsubscribe();
    const dispatched = dispatchedRun(runJobs.msgs, id);
    const before = await refused();

    // What the TaskTracker sent its ProcessorTracker (in process here, so
    // rebuilt from the run): the root task with the params, then the leaves.
    const startTasks = (tasks: { taskId: string; taskName: string }[]) => ({
      instanceId: id,
      epoch: dispatched.epoch,
      taskTrackerWorkerId: WORKER,
      processorName: 'mapped',
      jobId: dispatched.jobId,
      concurrency: 5,
      jobParams: null,
      instanceParams: null,
      tasks: tasks.map((t) => ({ ...t, attempt: 1, payload: t.taskName === 'leaf' ? 1 : null })),
    });
    const replays = [
      startTasks([{ taskId: 'root', taskName: 'root' }]),
      startTasks([
        { taskId: 'root.1.0', taskName: 'leaf' },
        { taskId: 'root.1.1', taskName: 'leaf' },
      ]),
    ];
    for (const req of replays) {
      const reply = await nats.bus.ask(
        routes.pt.startTasks,
        { app: app.name, workerId: WORKER },
        req,
      );
      expect(reply).toEqual({ accepted: 0, duplicates: req.tasks.length });
    }
    expect((await refused()).startTasks).toBe((before.startTasks ?? 0) + 3);

    const later = await run({ processorName: 'counted' });
    expect(await waitForInstance(app, later, final)).toMatchObject({ status: 'SUCCEEDED' });
    for (const task of ['root', 'root.1.0', 'root.1.1']) expect(ran.get(`${id}/${task}`)).toBe(1);
  });

  it('neither stores nor counts an injected map_task, nor stops for another epoch: the map-reduce result is unchanged', async () => {
    const runJobs = capture(
      nats.nc,
      routeSubject(routes.tt.runJobs, { app: app.name, workerId: WORKER }),
    );
    await nats.nc.flush();
    const id = await run({
      processorName: 'gated',
      executeType: 'MAP_REDUCE',
      taskRetry: { maximumAttempts: 2, initialIntervalMs: 0 },
    });
    await childrenAtSecondAttempt;
    runJobs.sub.unsubscribe();
    const epoch = dispatchedRun(runJobs.msgs, id).epoch;
    const before = await refused();

    type MapTask = z.input<typeof ttMessages.MapTask>;
    const base = {
      instanceId: id,
      epoch,
      workerId: WORKER,
      taskName: 'child',
      tasks: [{ taskId: 'injected', payload: 100 }],
    };
    const injections: Record<string, MapTask> = {
      'from a ProcessorTracker that does not hold the parent': {
        ...base,
        batchId: 'i1',
        workerId: 'intruder',
        parentTaskId: 'root.1.0',
        parentAttempt: 2,
      },
      'for a finished parent': { ...base, batchId: 'i2', parentTaskId: 'root', parentAttempt: 1 },
      'for an old attempt of the parent': {
        ...base,
        batchId: 'i3',
        parentTaskId: 'root.1.0',
        parentAttempt: 1,
      },
      'at an older epoch': {
        ...base,
        batchId: 'i4',
        epoch: epoch - 1,
        parentTaskId: 'root.1.0',
        parentAttempt: 2,
      },
      'without the fencing fields': {
        instanceId: id,
        batchId: 'i5',
        parentTaskId: 'root.1.0',
        taskName: 'child',
        tasks: [{ taskId: 'injected-5', payload: 100 }],
      },
    };
    for (const [what, req] of Object.entries(injections)) {
      const err = await nats.bus
        .ask(routes.tt.mapTask, { app: app.name, workerId: WORKER }, req)
        .catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(DroverError);
      expect((err as DroverError).code, what).toBe('FENCED');
    }
    expect((await refused()).mapTask).toBe((before.mapTask ?? 0) + 5);
    const running = await nats.bus.ask(
      routes.tt.queryInstanceStatus,
      { app: app.name, workerId: WORKER },
      { instanceId: id },
    );
    expect(running.progress.total).toBe(4);

    // A stop for another epoch (a replay of an old run's stop) does not stop this one.
    const stop = await nats.bus
      .ask(
        routes.tt.stopInstance,
        { app: app.name, workerId: WORKER },
        { instanceId: id, epoch: epoch - 1, reason: 'replayed stop' },
      )
      .catch((e: unknown) => e);
    expect((stop as DroverError).code).toBe('FENCED');
    expect((await refused()).stopInstance).toBe((before.stopInstance ?? 0) + 1);

    openGate();
    const done = await waitForInstance(app, id, final);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '4 results' });
    expect(done.progress).toMatchObject({ total: 4, succeeded: 4 });
  });
});
