import { describe, expect, it } from 'vitest';
import type { WorkerInfo } from '../src/dispatch/worker-registry.js';
import { bestWorker, eligibleWorkers, selectWorkers } from '../src/dispatch/worker-selection.js';

function worker(
  workerId: string,
  over: Partial<WorkerInfo['metrics']> = {},
  extra: Partial<WorkerInfo> = {},
): WorkerInfo {
  return {
    app: 'a',
    workerId,
    incarnation: `${workerId}-incarnation`,
    seq: 1,
    version: '1',
    tags: [],
    processors: ['p'],
    startedAt: 0,
    sentAt: 0,
    lastSeenAt: 0,
    seenAt: 0,
    trackedInstances: [],
    metrics: {
      cpuLoad: 0.2,
      cpuCores: 4,
      memoryUsedBytes: 1e9,
      memoryTotalBytes: 8e9,
      freeSlots: 4,
      totalSlots: 8,
      ...over,
    },
    ...extra,
  };
}

const job = {
  processorName: 'p',
  designatedWorkers: [] as string[],
  tags: [] as string[],
  dispatchStrategy: 'HEALTH_FIRST' as const,
  minCpuCores: 0,
  minMemoryMb: 0,
  maxWorkerCount: 0,
};

describe('worker selection', () => {
  it('orders by health: free slots first, then low load', () => {
    const picked = selectWorkers(
      [
        worker('busy', { freeSlots: 1 }),
        worker('idle', { freeSlots: 8 }),
        worker('hot', { cpuLoad: 1.8 }),
      ],
      job,
    );
    expect(picked.ordered.map((w) => w.workerId)).toEqual(['idle', 'busy', 'hot']);
  });

  it('keeps overloaded workers, last', () => {
    const picked = selectWorkers([worker('full', { freeSlots: 0 }), worker('ok')], job);
    expect(picked.ordered.map((w) => w.workerId)).toEqual(['ok', 'full']);
  });

  it('filters by designated workers, tags, cpu, memory and processor', () => {
    const ws = [
      worker('w1', {}, { tags: ['gpu'] }),
      worker('w2', { cpuCores: 1 }, { tags: ['gpu'] }),
      worker('w3', { memoryUsedBytes: 7.9e9 }, { tags: ['gpu'] }),
      worker('w4', {}, { tags: ['gpu'], processors: ['other'] }),
      worker('w5'),
    ];
    const picked = selectWorkers(ws, { ...job, tags: ['gpu'], minCpuCores: 2, minMemoryMb: 1024 });
    expect(picked.ordered.map((w) => w.workerId)).toEqual(['w1']);
    expect(
      selectWorkers(ws, { ...job, designatedWorkers: ['w5'] }).ordered.map((w) => w.workerId),
    ).toEqual(['w5']);
  });

  it('explains why nobody qualified', () => {
    expect(selectWorkers([], job).reason).toMatch(/no worker/);
    expect(selectWorkers([worker('w')], { ...job, processorName: 'missing' }).reason).toMatch(
      /"missing"/,
    );
    expect(selectWorkers([worker('w')], { ...job, tags: ['x'] }).reason).toMatch(/tags/);
  });

  it('caps the worker count and shuffles for RANDOM', () => {
    const ws = ['a', 'b', 'c', 'd'].map((id) => worker(id));
    expect(selectWorkers(ws, { ...job, maxWorkerCount: 2 }).ordered).toHaveLength(2);
    const order = selectWorkers(ws, { ...job, dispatchStrategy: 'RANDOM' }, () => 0).ordered.map(
      (w) => w.workerId,
    );
    expect(order).toEqual(['b', 'c', 'd', 'a']);
  });
});

describe('bestWorker', () => {
  // A seeded generator: the same cases on every run.
  let seed = 42;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };

  it('picks the worker selectWorkers orders first, ties, full and overloaded workers included', () => {
    for (let round = 0; round < 500; round++) {
      const workers = Array.from({ length: 1 + Math.floor(next() * 5) }, (_, i) =>
        worker(`w${i}`, {
          // Few distinct values: ties are common.
          freeSlots: Math.floor(next() * 3),
          totalSlots: 2,
          cpuLoad: Math.floor(next() * 3) / 2,
        }),
      );
      const spec = { ...job, maxWorkerCount: Math.floor(next() * 3) };
      const eligible = eligibleWorkers(workers, spec).workers;
      expect(bestWorker(eligible, 'HEALTH_FIRST')?.workerId).toBe(
        selectWorkers(workers, spec).ordered[0]?.workerId,
      );
    }
  });

  it('picks at random among workers with a free slot, any worker when all are full', () => {
    const free = [worker('full', { freeSlots: 0 }), worker('a'), worker('b')];
    const picked = new Set(
      Array.from({ length: 200 }, () => bestWorker(free, 'RANDOM', next)?.workerId),
    );
    expect([...picked].sort()).toEqual(['a', 'b']);
    const full = [worker('x', { freeSlots: 0 }), worker('y', { freeSlots: 0 })];
    expect(bestWorker(full, 'RANDOM', next)?.workerId).toMatch(/^[xy]$/);
    expect(bestWorker([], 'RANDOM', next)).toBeUndefined();
  });
});
