import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { type FakeClock, fakeClock } from '../../harness/fake-clock.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive, POLL_SLACK_MS, SILENCE_BOUND_MS } from './checks.js';

// A server whose wall clock is behind Postgres's (30 s, then stepped to 10
// minutes while it runs; libfaketime moves only CLOCK_REALTIME) still
// starts CRON slots and delayed runs at their time by the database
// clock, and its sweeper still settles a lost run within the silence bound.

const db = useDatabase();
// How late a slot may be dispatched (timers have millisecond precision; this
// leaves room for a loaded machine). Without a database clock it was 29 s.
const ON_TIME_MS = 1_000;
// Timers and the clock offset are good to a few ms: a hair early is not early.
const EARLY_MS = 100;
let cluster: DroverCluster;
let clock: FakeClock;
let serverReadyAt: number;

beforeAll(async () => {
  clock = await fakeClock(-30);
  cluster = await startDroverCluster(db.url, { serverEnv: clock.env, workers: ['behind-1'] });
  serverReadyAt = performance.now();
});
afterAll(async () => {
  await cluster.stop();
  await clock.remove();
});

type Run = { id: string; status: string; [k: string]: any };

/** The job's runs once `count` of them after `afterSlot` have succeeded (runs are rows: polled). */
async function succeededAfter(jobId: string, afterSlot: number, count: number): Promise<Run[]> {
  const { app } = cluster;
  const until = performance.now() + 60_000;
  for (;;) {
    const res = await app.api.get(
      `/api/v1/apps/${app.name}/instances?jobId=${jobId}&status=SUCCEEDED&limit=100`,
    );
    const runs = (res.body.instances as Run[]).filter((r) => r.expectedTriggerAt > afterSlot);
    if (runs.length >= count) return runs;
    if (performance.now() > until)
      throw new Error(`only ${runs.length} of ${count} slots succeeded within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// When each run's processor started (the worker's clock, not faked), against
// its slot: runs are sent ahead of their time and held by their worker until
// then, so the dispatch time says nothing about being on time.
function lateness(runs: Run[]): number[] {
  return runs.map((r) => r.startedAt - r.expectedTriggerAt);
}

describe('a server whose clock is behind Postgres', () => {
  it('starts CRON slots on time, 30 s behind and after a step to 10 minutes behind', async () => {
    const { app } = cluster;
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('cron'),
      timeExpressionType: 'CRON',
      timeExpression: '* * * * * *',
      processorName: 'noop',
    });
    expect(job.status).toBe(201);
    try {
      const first = await succeededAfter(job.body.id, 0, 4);
      for (const late of lateness(first)) {
        expect(late).toBeGreaterThan(-EARLY_MS);
        expect(late).toBeLessThan(ON_TIME_MS);
      }

      await clock.set(-600);
      const lastSeen = Math.max(...first.map((r) => r.expectedTriggerAt));
      const after = await succeededAfter(job.body.id, lastSeen, 4);
      for (const late of lateness(after)) {
        expect(late).toBeGreaterThan(-EARLY_MS);
        expect(late).toBeLessThan(ON_TIME_MS);
      }
    } finally {
      await app.api.delete(`/api/v1/apps/${app.name}/jobs/${job.body.id}`);
    }
  }, 150_000);

  it('runs a delayed API run after its delay by the database clock', async () => {
    const { app } = cluster;
    const created = await cluster.run({ processorName: 'noop' }, { delayMs: 2_000 });
    expect(created.nextDispatchAt - created.createdAt).toBeGreaterThanOrEqual(1_900);
    expect(created.nextDispatchAt - created.createdAt).toBeLessThanOrEqual(2_100);
    const done = await waitForInstance(app, created.id, (i) => i.status === 'SUCCEEDED', 30_000);
    const late = (done.startedAt as number) - created.nextDispatchAt;
    expect(late).toBeGreaterThan(-EARLY_MS);
    expect(late).toBeLessThan(ON_TIME_MS);
  }, 60_000);

  it('settles a run whose worker hangs (SIGSTOP) within the silence bound after the clock stepped back', async () => {
    const { app } = cluster;
    // Stepped back while the server runs (10 minutes behind; a no-op if the first test did it).
    await clock.set(-600);
    const created = await cluster.run({ processorName: 'forever' });
    await waitForInstance(app, created.id, (i) => i.status === 'RUNNING', 30_000);
    // SIGSTOP, not kill -9: a stopped worker keeps its NATS connection, so it is
    // not "lost" (that re-dispatches at once); its silence is the sweeper's to judge.
    const victim = cluster.workers.get('behind-1')?.child;
    victim?.kill('SIGSTOP');
    const killedAt = performance.now();
    const done = await waitForInstance(app, created.id, (i) => i.status === 'FAILED', 60_000);
    victim?.kill('SIGKILL');
    expect(done.reason).toMatch(/silent/);
    // The bound itself, on the database's clock: from its last report to its end.
    expect((done.finishedAt as number) - (done.lastReportAt as number)).toBeLessThanOrEqual(
      SILENCE_BOUND_MS,
    );
    // And that last report was before the kill: counted from the kill (or from the
    // server's start when that is later), as this test sees it.
    expect(performance.now()).toBeLessThanOrEqual(
      Math.max(killedAt, serverReadyAt) + SILENCE_BOUND_MS + POLL_SLACK_MS,
    );
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, ['behind-1']);
  }, 90_000);
});
