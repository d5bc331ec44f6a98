import { type DroverError, decode, routeSubject, routes } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { type RunJob, standaloneRun } from './support/standalone-run.js';

// A worker takes a batch of runs in one run_jobs, answering each: it starts
// what its concurrency allows, queues up to --max-queued-runs more (started
// in arrival order as slots free), refuses the rest as full, and refuses
// replays as fenced. Queued runs are the worker's like running ones: status
// queries, stops, heartbeats, and drain hand-backs see them.

const nats = useNats();
const WORKER = 'queue-1';
const CONCURRENCY = 2;
const MAX_QUEUED = 3;
let worker: DroverWorker;
let stopping: Promise<void> | undefined;

/** Instance ids whose processor started, in order; each holds until released or aborted. */
const started: string[] = [];
const gates = new Map<string, () => void>();
const waiters: { predicate: () => boolean; resolve: () => void }[] = [];
const reports: { instanceId: string; epoch: number; status: string }[] = [];
const heartbeats: string[][] = [];

function changed(): void {
  for (const w of [...waiters])
    if (w.predicate()) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
}

/** Resolves once `predicate` holds (checked on every event the test sees), or fails after `ms`. */
function until(predicate: () => boolean, what: string, ms = 15_000): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not yet: ${what}`)), ms);
    waiters.push({
      predicate,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    });
  });
}

const run = (instanceId: string, epoch = 1) => standaloneRun(instanceId, 'holds', epoch);

const address = () => ({ app: nats.app, workerId: WORKER });
const runJobs = (runs: RunJob[]) => nats.bus.ask(routes.tt.runJobs, address(), { runs });
const query = (instanceId: string) =>
  nats.bus.ask(routes.tt.queryInstanceStatus, address(), { instanceId }).catch((e: unknown) => e);

beforeAll(async () => {
  // The test plays the server: it records reports and answers them.
  nats.bus.handle(routes.server.reportInstanceStatus, { app: nats.app }, (req) => {
    reports.push({ instanceId: req.instanceId, epoch: req.epoch, status: req.status });
    changed();
    return { accepted: true, stop: false };
  });
  nats.bus.handle(routes.server.reportFinals, { app: nats.app }, (req) => {
    for (const r of req.reports)
      reports.push({ instanceId: r.instanceId, epoch: r.epoch, status: r.status });
    changed();
    return {
      results: req.reports.map((r) => ({ instanceId: r.instanceId, accepted: true, stop: false })),
    };
  });
  nats.nc.subscribe(routeSubject(routes.server.workerHeartbeat, { app: nats.app }), {
    callback: (_err, msg) => {
      heartbeats.push((decode(msg.data) as { trackedInstances: string[] }).trackedInstances);
      changed();
    },
  });
  await nats.nc.flush();
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: WORKER,
    concurrency: CONCURRENCY,
    maxQueuedRuns: MAX_QUEUED,
    drainGraceMs: 100,
    processors: [
      basicProcessor({
        name: 'holds',
        process: (ctx) =>
          new Promise<string>((resolve, reject) => {
            started.push(ctx.instanceId);
            gates.set(ctx.instanceId, () => resolve('released'));
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
            changed();
          }),
      }),
    ],
    log: testLogger(WORKER),
  });
});
afterAll(async () => {
  for (const open of gates.values()) open();
  await (stopping ?? worker.stop());
});

describe('a worker’s run queue', () => {
  it('answers each run of a batch: started, queued, full, fenced; queued runs start in order', async () => {
    const first = await runJobs(['1', '2', '3', '4', '5', '6'].map((id) => run(id)));
    expect(first.results).toEqual([
      { instanceId: '1', accepted: true },
      { instanceId: '2', accepted: true },
      { instanceId: '3', accepted: true },
      { instanceId: '4', accepted: true },
      { instanceId: '5', accepted: true },
      expect.objectContaining({ instanceId: '6', accepted: false, full: true }),
    ]);
    await until(() => started.length === CONCURRENCY, 'two runs started');
    expect(started).toEqual(['1', '2']);

    // Queued runs are this worker's: status queries and heartbeats see them.
    expect(await query('4')).toMatchObject({ instanceId: '4', epoch: 1, status: 'RUNNING' });
    await until(
      () => ['1', '2', '3', '4', '5'].every((id) => heartbeats.at(-1)?.includes(id)),
      'a heartbeat listing the queued runs',
    );

    // A slot frees: the oldest queued run starts.
    gates.get('1')?.();
    await until(() => started.length === 3, 'a queued run started');
    expect(started).toEqual(['1', '2', '3']);

    // Run 1 is done here once its final report is acknowledged (its slot freed before that).
    await until(() => !heartbeats.at(-1)?.includes('1'), 'run 1 gone from the heartbeats');

    // A retried batch: accepted again (same epoch), a finished run fenced, new runs queued or full.
    // A newer epoch of a queued run (5) takes its place in the queue, not the back.
    const second = await runJobs([run('2'), run('1'), run('7'), run('8'), run('5', 2)]);
    expect(second.results).toEqual([
      { instanceId: '2', accepted: true },
      expect.objectContaining({ instanceId: '1', accepted: false, fenced: true }),
      { instanceId: '7', accepted: true },
      expect.objectContaining({ instanceId: '8', accepted: false, full: true }),
      { instanceId: '5', accepted: true },
    ]);
    expect(await query('5')).toMatchObject({ epoch: 2 });
  });

  it('stops a queued run at its epoch (it never starts), and sends no report while it waits', async () => {
    const stale = await nats.bus
      .ask(routes.tt.stopInstance, address(), { instanceId: '4', epoch: 2, reason: 'x' })
      .catch((e: unknown) => e);
    expect((stale as DroverError).code).toBe('FENCED');
    expect(
      await nats.bus.ask(routes.tt.stopInstance, address(), {
        instanceId: '4',
        epoch: 1,
        reason: 'stopped by user',
      }),
    ).toEqual({ stopped: true });
    expect(((await query('4')) as DroverError).code).toBe('UNKNOWN_INSTANCE');

    await until(() => !heartbeats.at(-1)?.includes('4'), 'the stopped queued run gone');
    // Heartbeats keep a waiting run from looking silent: it sends no report of its own.
    expect(reports.filter((r) => ['4', '5', '7'].includes(r.instanceId))).toEqual([]);

    // Slots free: only the runs still queued start, in their order (5, then 7), never the stopped one.
    gates.get('2')?.();
    await until(() => started.includes('5'), 'the next queued run started');
    gates.get('3')?.();
    await until(() => started.includes('7'), 'the next queued run started');
    expect(started).toEqual(['1', '2', '3', '5', '7']);
  });

  it('hands queued runs back at once when draining, and refuses new ones', async () => {
    const queued = await runJobs([run('9'), run('10')]);
    expect(queued.results.map((r) => r.accepted)).toEqual([true, true]);
    stopping = worker.stop();
    const refused = await runJobs([run('11')]);
    expect(refused.results).toEqual([
      { instanceId: '11', accepted: false, reason: 'worker is draining' },
    ]);
    const handedBack = (id: string) =>
      reports.some((r) => r.instanceId === id && r.status === 'WAITING_DISPATCH');
    await until(() => handedBack('9') && handedBack('10'), 'queued runs handed back');
    // Running ones go back after the grace; the queued ones never started here.
    await stopping;
    expect(handedBack('5') && handedBack('7')).toBe(true);
    expect(started).toEqual(['1', '2', '3', '5', '7']);
  });
});
