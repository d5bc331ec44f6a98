import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  SLOW_SUM,
  SLOW_SUM_RESULT,
  startDroverCluster,
  untilLeafLoggedBy,
} from '../../harness/drover-cluster.js';
import { type FakeClock, fakeClock } from '../../harness/fake-clock.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Time sync steps a worker's wall clock by ±10 minutes (libfaketime moves
// only CLOCK_REALTIME; the monotonic clock is untouched, as on a real host).
// Intervals, ages and deadlines run on the monotonic clock, so a FIXED_RATE
// job keeps firing, a map-reduce does not take its live ProcessorTrackers for
// dead (all of them dead at once failed the run "no ProcessorTracker alive"),
// and a ProcessorTracker that does die is still found dead within its bound.

const db = useDatabase();
const IDS = ['jump-1', 'jump-2', 'jump-3'];
const TEN_MINUTES_S = 600;
// PT_DEAD_MS + the watchdog period (docs/guarantees.md), counted from the
// last ProcessorTracker heartbeat, which is at most one heartbeat (1 s) before the kill.
const PT_DEAD_BOUND_FROM_KILL_MS = 5_000 + 1_000 + 1_000;
// A pause of live workers well inside the 5 s dead-ProcessorTracker bound.
const PAUSE_MS = 2_000;
let cluster: DroverCluster;
const clocks = new Map<string, FakeClock>();

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  for (const id of IDS) {
    const clock = await fakeClock();
    clocks.set(id, clock);
    await cluster.startWorker(id, [], { env: clock.env });
  }
  await cluster.untilWorkersAlive(IDS.length);
});
afterAll(async () => {
  await cluster.stop();
  await Promise.all([...clocks.values()].map((c) => c.remove()));
});

function clockOf(workerId: unknown): FakeClock {
  const clock = clocks.get(workerId as string);
  if (!clock) throw new Error(`no fake clock for worker ${String(workerId)}`);
  return clock;
}

/** How many times a FIXED_RATE run fired so far: one `echo` log line per firing. */
async function firings(instanceId: string): Promise<number> {
  const { app } = cluster;
  const res = await app.api.get(`/api/v1/apps/${app.name}/instances/${instanceId}/logs?limit=1000`);
  return (res.body.lines as { message: string }[]).filter((l) => l.message.startsWith('echoing'))
    .length;
}

/** Resolves once the run has fired `count` times; logs are rows, so this polls them. */
async function untilFirings(instanceId: string, count: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const seen = await firings(instanceId);
    if (seen >= count) return;
    if (performance.now() > until)
      throw new Error(`fired ${seen} times, not ${count}, within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a worker’s wall clock steps ±10 minutes', () => {
  it('keeps a FIXED_RATE job firing every interval', async () => {
    const { app } = cluster;
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('rate'),
      timeExpressionType: 'FIXED_RATE',
      timeExpression: '300',
      processorName: 'echo',
      jobParams: { text: 'tick' },
    });
    expect(job.status).toBe(201);
    let instanceId = '';
    for (;;) {
      const res = await app.api.get(`/api/v1/apps/${app.name}/instances?jobId=${job.body.id}`);
      instanceId = res.body.instances[0]?.id ?? '';
      if (instanceId) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = await waitForInstance(app, instanceId, (i) => i.status === 'RUNNING', 30_000);
    const clock = clockOf(running.workerId);
    await untilFirings(instanceId, 3, 20_000);

    // 10 minutes back, then 10 minutes forward again: at 300 ms a firing,
    // five more come within 10 s each time (waiting out the step would take 10 minutes).
    for (const offset of [-TEN_MINUTES_S, 0]) {
      await clock.set(offset);
      await untilFirings(instanceId, (await firings(instanceId)) + 5, 10_000);
    }

    await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/disable`);
    const stopped = await waitForInstance(app, instanceId, (i) => i.status === 'STOPPED', 30_000);
    expect(stopped.workerId).toBe(running.workerId);
  }, 120_000);

  it('does not take live ProcessorTrackers for dead when the TaskTracker’s clock jumps forward', async () => {
    const { app } = cluster;
    const id = (
      await cluster.run({ ...SLOW_SUM, concurrencyPerWorker: 1 }, { params: { leafMs: 200 } })
    ).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const trackerId = running.workerId as string;
    const clock = clockOf(trackerId);
    await untilLeafLoggedBy(app, id, (w) => w !== trackerId);
    // The other workers pause for less than the dead-peer bound while the
    // TaskTracker's clock jumps, so its watchdog looks at them before their
    // next heartbeat: 10 minutes of silence by the wall clock, 2 s in truth.
    const peers = IDS.filter((w) => w !== trackerId).map((w) => cluster.workers.get(w));
    for (const p of peers) p?.child.kill('SIGSTOP');
    try {
      await clock.set(TEN_MINUTES_S);
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    } finally {
      for (const p of peers) p?.child.kill('SIGCONT');
    }
    try {
      const done = await waitForInstance(
        app,
        id,
        (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
        90_000,
      );
      expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
      expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
      expect(cluster.workers.get(trackerId)?.find(/(ProcessorTracker silent)/)).toBeUndefined();
    } finally {
      await clock.set(0);
    }
  }, 150_000);

  it('still finds a dead ProcessorTracker dead when the TaskTracker’s clock jumps back', async () => {
    const { app } = cluster;
    const id = (
      await cluster.run({ ...SLOW_SUM, concurrencyPerWorker: 1 }, { params: { leafMs: 200 } })
    ).id as string;
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    const trackerId = running.workerId as string;
    const tracker = cluster.workers.get(trackerId);
    await clockOf(trackerId).set(-TEN_MINUTES_S);
    const victimId = await untilLeafLoggedBy(app, id, (w) => w !== trackerId);
    const found = tracker?.waitFor(
      new RegExp(`"worker":"${victimId}".*ProcessorTracker silent`),
      60_000,
    );
    const killedAt = performance.now();
    cluster.workers.get(victimId)?.child.kill('SIGKILL');
    await found;
    expect(performance.now() - killedAt).toBeLessThanOrEqual(PT_DEAD_BOUND_FROM_KILL_MS);

    const done = await waitForInstance(
      app,
      id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      90_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: SLOW_SUM_RESULT });
    expect(done.progress).toMatchObject({ total: 201, succeeded: 201, failed: 0 });
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, [victimId]);
  }, 150_000);
});
