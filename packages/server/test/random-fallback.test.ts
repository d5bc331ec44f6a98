import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import type { FakeWorker } from './support/fake-worker.js';

// A RANDOM job's runs, inserted already claimed, each fall back to the job's
// other workers in an order drawn for that run: runs refused by the same
// claimed worker do not all go to the same next one.

const s = useDispatchSetup();
const RUNS = 200;

describe('a RANDOM job refused by its claimed worker', () => {
  it('draws each run its own order of the other workers', async () => {
    const claimedBy = new Map<string, string>();
    const takenBy = new Map<string, string>();
    let taken = () => {};
    const allTaken = new Promise<void>((resolve) => {
      taken = resolve;
    });
    for (let i = 0; i < 4; i++) {
      const w: FakeWorker = await s.worker({
        processors: ['spread'],
        freeSlots: 10_000,
        runJobs: true,
        autoSucceed: true,
        // Each run's first offer (its claim at insert) is refused; the next is taken.
        onRunJob: (run) => {
          const me = w.options.workerId;
          if (!claimedBy.has(run.instanceId)) {
            claimedBy.set(run.instanceId, me);
            return 'refuse';
          }
          takenBy.set(run.instanceId, me);
          if (takenBy.size === RUNS) taken();
          return 'accept';
        },
      });
    }
    const job = await s.createJob({ processorName: 'spread', dispatchStrategy: 'RANDOM' });
    const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${job}/runs`, {
      runs: Array.from({ length: RUNS }, (_, n) => ({ params: { n } })),
    });
    expect(res.status).toBe(201);
    await allTaken;
    // Per claimed worker, where its refused runs went.
    const next = new Map<string, Set<string>>();
    for (const [id, claimed] of claimedBy) {
      const taker = takenBy.get(id) as string;
      expect(taker).not.toBe(claimed);
      const seen = next.get(claimed) ?? new Set();
      seen.add(taker);
      next.set(claimed, seen);
    }
    // ~50 runs a claimed worker: one order for all would send them to one worker.
    const counted = [...claimedBy.values()];
    const large = [...next].filter(([w]) => counted.filter((c) => c === w).length >= 30);
    expect(large.length).toBeGreaterThan(0);
    for (const [, takers] of large) expect(takers.size).toBeGreaterThan(1);
  });
});
