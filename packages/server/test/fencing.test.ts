import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

const s = useDispatchSetup();

describe('epoch fencing', () => {
  it('rejects a report with a stale epoch and tells that TaskTracker to stop', async () => {
    const slow = await s.worker({ processors: ['fenced'], freeSlots: 4, onRunJob: () => 'ignore' });
    const fast = await s.worker({ processors: ['fenced'], freeSlots: 1 });
    const instance = await s.run(await s.createJob({ processorName: 'fenced' }));
    // The first worker never answers: after the ask times out, the run moves on under epoch 2.
    await fast.until(() => fast.runs.some((r) => r.instanceId === instance.id));
    const current = fast.runs.find((r) => r.instanceId === instance.id)?.epoch as number;
    expect(current).toBeGreaterThanOrEqual(2);
    const stale = await slow.report(
      { instanceId: instance.id, epoch: 1 },
      'SUCCEEDED',
      'from the old epoch',
    );
    expect(stale).toMatchObject({ accepted: false, stop: true });
    expect(stale.reason).toBe(`stale epoch 1, current is ${current}`);
    const staleRunning = await slow.report({ instanceId: instance.id, epoch: 1 }, 'RUNNING');
    expect(staleRunning).toMatchObject({ accepted: false, stop: true });
    expect((await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING')).epoch).toBe(
      current,
    );
    await fast.report({ instanceId: instance.id, epoch: current }, 'SUCCEEDED', 'current');
    expect(
      (await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED')).result,
    ).toBe('current');
  });

  it('keeps a stopped instance STOPPED whatever its TaskTracker reports later', async () => {
    const w = await s.worker({ processors: ['stoppable'] });
    const instance = await s.run(await s.createJob({ processorName: 'stoppable' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    await waitForInstance(s.app, instance.id, (i) => i.status === 'RUNNING');
    const stopped = await s.app.api.post(
      `/api/v1/apps/${s.app.name}/instances/${instance.id}/stop`,
    );
    expect(stopped.body.status).toBe('STOPPED');
    await w.until(() => w.stops.some((x) => x.instanceId === instance.id));
    for (const status of ['RUNNING', 'SUCCEEDED', 'FAILED'] as const) {
      const late = await w.report({ instanceId: instance.id, epoch: 1 }, status);
      expect(late, status).toMatchObject({ accepted: false, stop: true });
    }
    expect((await waitForInstance(s.app, instance.id, () => true)).status).toBe('STOPPED');
    expect(
      (await s.app.api.post(`/api/v1/apps/${s.app.name}/instances/${instance.id}/stop`)).status,
    ).toBe(409);
  });

  it('accepts a duplicate final report once, without changing the result', async () => {
    const w = await s.worker({ processors: ['dup'] });
    const instance = await s.run(await s.createJob({ processorName: 'dup' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const reports = await Promise.all(
      Array.from({ length: 10 }, () =>
        w.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED', 'once'),
      ),
    );
    expect(reports.every((r) => r.accepted && !r.stop)).toBe(true);
    const other = await w.report(
      { instanceId: instance.id, epoch: 1 },
      'FAILED',
      'changed my mind',
    );
    expect(other.accepted).toBe(false);
    expect(
      await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED'),
    ).toMatchObject({ result: 'once' });
  });

  it('settles concurrent conflicting final reports once: one status wins, the other is refused', async () => {
    const w = await s.worker({ processors: ['race'] });
    const instance = await s.run(await s.createJob({ processorName: 'race' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const statuses = Array.from({ length: 20 }, (_, i): 'SUCCEEDED' | 'FAILED' =>
      i % 2 ? 'FAILED' : 'SUCCEEDED',
    );
    const reports = await Promise.all(
      statuses.map((status, i) =>
        w.report({ instanceId: instance.id, epoch: 1 }, status, `report ${i}`),
      ),
    );
    const final = await waitForInstance(s.app, instance.id, (i) =>
      ['SUCCEEDED', 'FAILED'].includes(i.status),
    );
    // The first to land wins; reports of the same status count as its duplicates, the other
    // status is refused; no errors, one final row carrying one report's result.
    const accepted = reports.flatMap((r, i) => (r.accepted ? [i] : []));
    expect(accepted.length).toBeGreaterThan(0);
    expect(new Set(accepted.map((i) => statuses[i]))).toEqual(new Set([final.status]));
    expect(accepted.map((i) => `report ${i}`)).toContain(final.result);
    expect(reports.filter((r) => !r.accepted).every((r) => r.stop)).toBe(true);
  });

  it('cancels only runs that have not started, and retries finished ones as new instances', async () => {
    const jobId = await s.createJob({ processorName: 'nobody-has-this' });
    const waiting = await s.run(jobId, { delayMs: 60_000 });
    const canceled = await s.app.api.post(
      `/api/v1/apps/${s.app.name}/instances/${waiting.id}/cancel`,
    );
    expect(canceled.body.status).toBe('CANCELED');
    expect(
      (await s.app.api.post(`/api/v1/apps/${s.app.name}/instances/${waiting.id}/cancel`)).status,
    ).toBe(409);
    const retried = await s.app.api.post(
      `/api/v1/apps/${s.app.name}/instances/${waiting.id}/retry`,
    );
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ retryOf: waiting.id, triggerType: 'RETRY' });
    const again = await s.app.api.post(`/api/v1/apps/${s.app.name}/instances/${waiting.id}/retry`);
    expect(again.body.id).toBe(retried.body.id);
    const notFinished = await s.app.api.post(
      `/api/v1/apps/${s.app.name}/instances/${retried.body.id}/retry`,
    );
    expect(notFinished.status).toBe(409);
  });

  it('ignores reports for another app’s instance', async () => {
    const w = await s.worker({ processors: ['mine'] });
    const instance = await s.run(await s.createJob({ processorName: 'mine' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const { FakeWorker } = await import('./support/fake-worker.js');
    const intruder = new FakeWorker(w.bus, {
      app: 'another_app',
      workerId: 'x',
    });
    const reply = await intruder.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED');
    expect(reply).toMatchObject({ accepted: false, stop: true });
    expect((await waitForInstance(s.app, instance.id, () => true)).status).not.toBe('SUCCEEDED');
  });
});
