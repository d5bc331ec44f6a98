import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

// "Not started within N" counts from when a run became due (its delay, a
// retry's backoff, a hand-back), never from its creation, and not while it
// waits in the queue of its job's own concurrency limit.
const GIVE_UP_MS = 3_000;
const s = useDispatchSetup({ waitingGiveUpMs: GIVE_UP_MS });

/** A run held on a worker for longer than the give-up bound, as a long processor would. */
const holdPastGiveUp = () => new Promise((r) => setTimeout(r, GIVE_UP_MS + 500));
const startedOrFailed = (i: { status: string }) => i.status === 'RUNNING' || i.status === 'FAILED';

describe('give-up counts from when the run became due', () => {
  it('starts a run delayed past the give-up bound', async () => {
    const w = await s.worker({ processors: ['delayed'] });
    const instance = await s.run(await s.createJob({ processorName: 'delayed' }), {
      delayMs: GIVE_UP_MS + 500,
    });
    const seen = await waitForInstance(s.app, instance.id, startedOrFailed);
    expect(seen.status, String(seen.reason)).toBe('RUNNING');
    expect(w.runs.some((r) => r.instanceId === instance.id)).toBe(true);
  });

  it('starts an instance retry of a run that ran past the give-up bound', async () => {
    const w = await s.worker({ processors: ['retried-late'] });
    const instance = await s.run(
      await s.createJob({
        processorName: 'retried-late',
        instanceRetry: { maximumAttempts: 2, initialIntervalMs: 1_000 },
      }),
    );
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    await holdPastGiveUp();
    await w.report({ instanceId: instance.id, epoch: 1 }, 'FAILED', 'first run failed');
    const seen = await waitForInstance(
      s.app,
      instance.id,
      (i) => i.epoch === 2 || i.status === 'FAILED',
    );
    expect(seen.status, String(seen.reason)).not.toBe('FAILED');
    expect(seen.runAttempt).toBe(2);
  });

  it('dispatches a hand-back of a long run again, without failing it for its age', async () => {
    const drained = await s.worker({ processors: ['handed-back'] });
    const instance = await s.run(await s.createJob({ processorName: 'handed-back' }));
    await drained.until(() => drained.runs.some((r) => r.instanceId === instance.id));
    await holdPastGiveUp();
    drained.options.onRunJob = () => 'refuse'; // draining: takes no new work
    await drained.report({ instanceId: instance.id, epoch: 1 }, 'WAITING_DISPATCH', 'draining');
    await waitForInstance(s.app, instance.id, (i) => i.status === 'WAITING_WORKER');
    // Another worker comes up a while later: the run must still be waiting for it.
    await new Promise((r) => setTimeout(r, 1_000));
    const taker = await s.worker({ processors: ['handed-back'] });
    const seen = await waitForInstance(s.app, instance.id, startedOrFailed);
    expect(seen.status, String(seen.reason)).toBe('RUNNING');
    expect(seen.workerId).toBe(taker.options.workerId);
  });

  it('says "not started again" of a run that ran, was handed back and found no worker', async () => {
    const drained = await s.worker({ processors: ['handed-back-alone'] });
    const instance = await s.run(
      await s.createJob({ processorName: 'handed-back-alone', scheduleToStartTimeoutMs: 500 }),
    );
    await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    drained.options.onRunJob = () => 'refuse'; // draining: takes no new work
    await drained.report({ instanceId: instance.id, epoch: 1 }, 'WAITING_DISPATCH', 'draining');
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.startedAt).not.toBeNull();
    expect(failed.reason).toMatch(/^not started again within 500 ms of being due again/);
  });

  it('does not count the wait for a slot of max concurrent instances', async () => {
    const w = await s.worker({ processors: ['one-at-a-time'] });
    const jobId = await s.createJob({ processorName: 'one-at-a-time', maxConcurrentInstances: 1 });
    const first = await s.run(jobId);
    await w.until(() => w.runs.some((r) => r.instanceId === first.id));
    const queued = await s.run(jobId);
    await waitForInstance(s.app, queued.id, (i) => /maxConcurrentInstances/.test(String(i.reason)));
    await holdPastGiveUp();
    await w.report({ instanceId: first.id, epoch: 1 }, 'SUCCEEDED');
    const seen = await waitForInstance(s.app, queued.id, startedOrFailed);
    expect(seen.status, String(seen.reason)).toBe('RUNNING');
  });

  it('gives up a queued run that stopped waiting for a slot to wait for a worker', async () => {
    const w = await s.worker({ processors: ['queued-then-alone'], tags: ['gpu'] });
    const jobId = await s.createJob({
      processorName: 'queued-then-alone',
      tags: ['gpu'],
      maxConcurrentInstances: 1,
      scheduleToStartTimeoutMs: 1_000,
    });
    const first = await s.run(jobId);
    await w.until(() => w.runs.some((r) => r.instanceId === first.id));
    const queued = await s.run(jobId);
    await waitForInstance(s.app, queued.id, (i) => /maxConcurrentInstances/.test(String(i.reason)));
    // Its only worker stops qualifying, then ends the first run: the slot is
    // free, and the queued run now waits for a worker, not for a slot.
    w.options.tags = [];
    const workersPath = `/api/v1/apps/${s.app.name}/workers`;
    const deadline = Date.now() + 5_000;
    const tagsOfW = async (): Promise<string[]> =>
      (await s.app.api.get(workersPath)).body.workers.find(
        (x: { workerId: string }) => x.workerId === w.options.workerId,
      )?.tags ?? [];
    while ((await tagsOfW()).length) {
      expect(Date.now()).toBeLessThan(deadline); // its next heartbeat carries no tag
      await new Promise((r) => setTimeout(r, 50));
    }
    await w.report({ instanceId: first.id, epoch: 1 }, 'SUCCEEDED');
    const failed = await waitForInstance(s.app, queued.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/not started within 1000 ms/);
  });

  it('fails a run not started within the job’s scheduleToStartTimeoutMs', async () => {
    const jobId = await s.createJob({
      processorName: 'nobody-has-it',
      scheduleToStartTimeoutMs: 500,
    });
    const instance = await s.run(jobId);
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toMatch(/not started within 500 ms/);
    // Documented bound: the timeout plus one sweep period (200 ms here), with slack for the API.
    expect((failed.finishedAt as number) - (failed.createdAt as number)).toBeLessThan(
      500 + 200 + 1_000,
    );
  });

  it('rejects a scheduleToStartTimeoutMs that is not a whole number of at least 100 ms', async () => {
    for (const bad of [50, 1.5, '1000']) {
      const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs`, {
        name: `bad-${String(bad)}`,
        processorName: 'noop',
        timeExpressionType: 'API',
        scheduleToStartTimeoutMs: bad,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain(
        'body.scheduleToStartTimeoutMs',
      );
    }
  });
});
