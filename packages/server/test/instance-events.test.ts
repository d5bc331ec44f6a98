import type { DroverEvent } from '@drover/protocol';
import { subscribeEvents } from '@drover/transport';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

// Every final transition publishes its lifecycle event, so a monitor never
// shows a stopped or canceled run as still running.

const s = useDispatchSetup();
const events: DroverEvent[] = [];
const waiters = new Set<() => void>();

/** Resolves with the first instance event (seen so far, or to come) for `id` with `status`. */
function instanceEvent(id: string, status: string): Promise<DroverEvent> {
  const match = (e: DroverEvent) =>
    e.type === 'instance' && e.instanceId === id && e.status === status;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${status} event for ${id}; saw ${JSON.stringify(events)}`));
    }, 10_000);
    const check = () => {
      const found = events.find(match);
      if (found) {
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      }
    };
    waiters.add(check);
    check();
  });
}

beforeAll(async () => {
  const bus = await s.nats.connect('monitor');
  subscribeEvents(
    bus.nc,
    s.app.name,
    (e) => {
      events.push(e);
      for (const check of [...waiters]) check();
    },
    pino({ level: 'silent' }),
  );
  await bus.nc.flush();
});

describe('lifecycle events of final transitions', () => {
  it('publishes STOPPED when a user stops a running run', async () => {
    const w = await s.worker({ processors: ['stop-me'] });
    const instance = await s.run(await s.createJob({ processorName: 'stop-me' }));
    await instanceEvent(instance.id, 'RUNNING');
    const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/instances/${instance.id}/stop`);
    expect(res.body.status).toBe('STOPPED');
    expect(await instanceEvent(instance.id, 'STOPPED')).toMatchObject({
      reason: 'stopped by user',
    });
    await w.until(() => w.stops.some((x) => x.instanceId === instance.id));
  });

  it('publishes CANCELED when a user cancels a run not yet started', async () => {
    const instance = await s.run(await s.createJob(), { delayMs: 60_000 });
    const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/instances/${instance.id}/cancel`);
    expect(res.body.status).toBe('CANCELED');
    expect(await instanceEvent(instance.id, 'CANCELED')).toMatchObject({
      reason: 'canceled by user',
    });
  });

  it('publishes FAILED for a run beyond max concurrent instances that fails fast', async () => {
    const w = await s.worker({ processors: ['only-one'] });
    const jobId = await s.createJob({
      processorName: 'only-one',
      maxConcurrentInstances: 1,
      concurrencyOverflow: 'FAIL',
    });
    const first = await s.run(jobId);
    await w.until(() => w.runs.some((r) => r.instanceId === first.id));
    const second = await s.run(jobId);
    expect(await instanceEvent(second.id, 'FAILED')).toMatchObject({
      reason: expect.stringMatching(/maxConcurrentInstances/),
    });
  });

  it('publishes STOPPED for a frequent job’s run when the job is disabled', async () => {
    const w = await s.worker({ processors: ['every-tick'] });
    const jobId = await s.createJob({
      processorName: 'every-tick',
      timeExpressionType: 'FIXED_RATE',
      timeExpression: '1000',
    });
    await w.until(() => w.runs.some((r) => r.jobId === jobId));
    const instanceId = w.runs.find((r) => r.jobId === jobId)?.instanceId as string;
    await waitForInstance(s.app, instanceId, (i) => i.status === 'RUNNING');
    await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/disable`);
    expect(await instanceEvent(instanceId, 'STOPPED')).toMatchObject({ reason: 'job disabled' });
  });

  it('publishes RUNNING before SUCCEEDED for a run that ends before its accept is recorded', async () => {
    await s.worker({ processors: ['quick'], succeedBeforeAnswer: true });
    const instance = await s.run(await s.createJob({ processorName: 'quick' }));
    await instanceEvent(instance.id, 'SUCCEEDED');
    const statuses = events
      .filter((e) => e.type === 'instance' && e.instanceId === instance.id)
      .map((e) => (e.type === 'instance' ? e.status : ''));
    expect(statuses).toEqual(['RUNNING', 'SUCCEEDED']);
    const done = await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(done.startedAt).not.toBeNull();
  });
});
