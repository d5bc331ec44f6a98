import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';

// A new run is bound to a worker by its INSERT, its slot counted against the
// worker at once. A run that is then not created (here a repeated
// idempotency key: a client retrying its call) is never sent, so its slot
// must count as free again at once, not only at the worker's next heartbeat.

// Heartbeats reset the count: this test's worker beats once, and stays alive.
const s = useDispatchSetup({ workerDeadMs: 60_000 });

async function freeSlots(workerId: string): Promise<number | undefined> {
  const res = await s.app.api.get(`/api/v1/apps/${s.app.name}/workers`);
  const w = (res.body.workers as { workerId: string; metrics: { freeSlots: number } }[]).find(
    (x) => x.workerId === workerId,
  );
  return w?.metrics.freeSlots;
}

describe('slots picked at insert', () => {
  it('are given back for runs a repeated idempotency key did not create', async () => {
    const w = await s.worker({ processors: ['picked'], freeSlots: 4, beatEveryMs: 600_000 });
    const job = await s.createJob({ processorName: 'picked' });
    while ((await freeSlots(w.options.workerId)) !== 4) await new Promise((r) => setTimeout(r, 20));
    const runs = [{ idempotencyKey: 'a1' }, { idempotencyKey: 'a2' }];
    const path = `/api/v1/apps/${s.app.name}/jobs/${job}/runs`;

    const first = await s.app.api.post(path, { runs });
    expect(first.body.instances.map((i: { workerId: string }) => i.workerId)).toEqual([
      w.options.workerId,
      w.options.workerId,
    ]);
    await w.until(() => w.runs.length === 2);
    expect(await freeSlots(w.options.workerId)).toBe(2);

    // The client retries its call: the same runs come back, nothing is sent.
    const again = await s.app.api.post(path, { runs });
    expect(again.body.instances.map((i: { id: string }) => i.id)).toEqual(
      first.body.instances.map((i: { id: string }) => i.id),
    );
    expect(await freeSlots(w.options.workerId)).toBe(2);
    expect(w.runs).toHaveLength(2);
  });
});
