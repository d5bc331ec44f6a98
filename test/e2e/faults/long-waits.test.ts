import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type TestApp,
  waitForInstance,
} from '../../../packages/server/test/support/server-fixture.js';
import {
  type ClusterApp,
  type DroverCluster,
  startDroverCluster,
} from '../../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive, POLL_SLACK_MS, SILENCE_BOUND_MS } from './checks.js';

// Waits longer than a Node timer holds (2^31-1 ms, about 24.8 days): the
// documented 30-day maximum timeout, 3e9 ms instance and task retry
// intervals, a 3e9 ms FIXED_RATE interval and run delay. None fires at once,
// none overflows a SQL parameter, and one app's run with such a wait never
// stops the sweeper from settling another app's lost run.

const db = useDatabase();
const DAY_MS = 24 * 3_600_000;
const HUGE_MS = 3e9;
let cluster: DroverCluster;
let other: ClusterApp;
let serverReadyAt: number;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['long-a'] });
  serverReadyAt = performance.now();
  other = await cluster.createApp(uniqueName('other'));
  await cluster.startWorker('long-b', [], { app: other });
});
afterAll(() => cluster.stop());

type Run = { id: string; status: string; [k: string]: any };

async function runIn(app: TestApp, spec: Record<string, unknown>, body = {}): Promise<Run> {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    ...spec,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, body);
  return run.body;
}

/** The first run of a job the scheduler starts itself (runs are rows: polled). */
async function firstRunOf(app: TestApp, jobId: string): Promise<Run> {
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/instances?jobId=${jobId}`);
    if (res.body.instances[0]) return res.body.instances[0];
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('waits longer than a timer holds', () => {
  it('keeps a run with the 30-day maximum timeout running until it finishes', async () => {
    const { app } = cluster;
    const run = await runIn(
      app,
      { processorName: 'nap', instanceTimeoutMs: 30 * DAY_MS },
      { params: { ms: 1_500 } },
    );
    // Its first report may make it RUNNING before the accept sets the deadline.
    const running = await waitForInstance(
      app,
      run.id,
      (i) => i.status === 'RUNNING' && i.deadlineAt !== null,
      30_000,
    );
    expect((running.deadlineAt as number) - (running.startedAt as number)).toBeGreaterThanOrEqual(
      30 * DAY_MS - 1_000,
    );
    const done = await waitForInstance(
      app,
      run.id,
      (i) => ['SUCCEEDED', 'FAILED'].includes(i.status),
      30_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: 'napped on long-a' });
  }, 60_000);

  it('refuses waits past 365 days with a 400 naming the field', async () => {
    const { app } = cluster;
    const res = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'FIXED_RATE',
      timeExpression: String(366 * DAY_MS),
      processorName: 'noop',
      instanceRetry: { initialIntervalMs: 366 * DAY_MS },
    });
    expect(res.status).toBe(400);
    const paths = (res.body.error.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['body.timeExpression', 'body.instanceRetry.initialIntervalMs']),
    );
  });

  it('waits out 3e9 ms retries, intervals and delays, and still settles another app’s lost run', async () => {
    const { app } = cluster;
    // Another app's run, whose worker dies: the sweeper must settle it.
    const lost = await runIn(other, { processorName: 'forever' });
    await waitForInstance(other, lost.id, (i) => i.status === 'RUNNING', 30_000);

    // This app: a run that times out and is retried after 3e9 ms; a task
    // retried after 3e9 ms; a FIXED_RATE job every 3e9 ms; a run 3e9 ms later.
    const retried = await runIn(app, {
      processorName: 'forever',
      instanceTimeoutMs: 1_000,
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: HUGE_MS, maximumIntervalMs: HUGE_MS },
    });
    const taskRetried = await runIn(app, {
      processorName: 'exits',
      taskRetry: { maximumAttempts: 2, initialIntervalMs: HUGE_MS, maximumIntervalMs: HUGE_MS },
    });
    const rate = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('rate'),
      timeExpressionType: 'FIXED_RATE',
      timeExpression: String(HUGE_MS),
      processorName: 'echo',
      jobParams: { text: 'once' },
    });
    expect(rate.status).toBe(201);
    const delayed = await runIn(app, { processorName: 'noop' }, { delayMs: HUGE_MS });

    // SIGSTOP, not kill -9: a stopped worker keeps its NATS connection, so it is
    // not "lost" (that re-dispatches at once); its silence is the sweeper's to judge.
    const victim = cluster.workers.get('long-b')?.child;
    victim?.kill('SIGSTOP');
    const killedAt = performance.now();
    const settled = await waitForInstance(other, lost.id, (i) => i.status === 'FAILED', 60_000);
    victim?.kill('SIGKILL');
    expect(settled.reason).toMatch(/silent/);
    // The bound itself, on the database's clock: from its last report to its end.
    expect((settled.finishedAt as number) - (settled.lastReportAt as number)).toBeLessThanOrEqual(
      SILENCE_BOUND_MS,
    );
    // And that last report was before the kill: counted from the kill (or from the
    // server's start when that is later), as this test sees it.
    expect(performance.now()).toBeLessThanOrEqual(
      Math.max(killedAt, serverReadyAt) + SILENCE_BOUND_MS + POLL_SLACK_MS,
    );

    // Over 16 s later, none of the long waits has ended.
    const again = await waitForInstance(
      app,
      retried.id,
      (i) => i.status === 'WAITING_DISPATCH',
      5_000,
    );
    expect(again.runAttempt).toBe(2);
    expect((again.nextDispatchAt as number) - (again.createdAt as number)).toBeGreaterThanOrEqual(
      HUGE_MS,
    );
    expect((await waitForInstance(app, taskRetried.id, () => true)).status).toBe('RUNNING');
    // One firing so far (progress is reported every 5 s; a firing may fail if
    // it shared a thread with the processor that exits, which is still one).
    const rateRun = await firstRunOf(app, rate.body.id);
    expect(rateRun.status).toBe('RUNNING');
    expect(rateRun.progress?.total).toBe(1);
    const later = await waitForInstance(app, delayed.id, () => true);
    expect(later).toMatchObject({ status: 'WAITING_DISPATCH', epoch: 0 });

    await app.api.post(`/api/v1/apps/${app.name}/instances/${retried.id}/cancel`);
    await app.api.post(`/api/v1/apps/${app.name}/instances/${delayed.id}/cancel`);
    await app.api.post(`/api/v1/apps/${app.name}/instances/${taskRetried.id}/stop`);
    await app.api.post(`/api/v1/apps/${app.name}/jobs/${rate.body.id}/disable`);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster, ['long-b']);
  }, 120_000);
});
