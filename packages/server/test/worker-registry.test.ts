import { describe, expect, it } from 'vitest';
import { WorkerRegistry } from '../src/dispatch/worker-registry.js';
import { selectWorkers } from '../src/dispatch/worker-selection.js';

// The acceptance rule of heartbeats (no secret on the wire): the incarnation
// holding a worker id with a newer seq, or any incarnation once the holder is
// lost or left; a replay of a retired incarnation never comes back.

const DEAD_MS = 1_000;

function beat(incarnation: string, seq: number, processors = ['p']) {
  return {
    app: 'a',
    workerId: 'w',
    incarnation,
    seq,
    version: '1',
    tags: [],
    processors,
    startedAt: 0,
    sentAt: 0,
    metrics: {
      cpuLoad: 0,
      cpuCores: 1,
      memoryUsedBytes: 0,
      memoryTotalBytes: 1,
      freeSlots: 1,
      totalSlots: 1,
    },
    trackedInstances: [],
  };
}

describe('worker registry heartbeats', () => {
  it('takes a newer seq of the holder and ignores an old or repeated one', () => {
    const r = new WorkerRegistry(DEAD_MS);
    expect(r.record(beat('inc-aaaa', 1), 0)).toBeUndefined();
    expect(r.record(beat('inc-aaaa', 2), 100)).toBeUndefined();
    expect(r.record(beat('inc-aaaa', 2), 200)).toBe('stale');
    expect(r.record(beat('inc-aaaa', 1), 300)).toBe('stale');
    expect(r.get('a', 'w')?.seq).toBe(2);
    expect(r.ignored).toEqual({ stale: 2, held: 0 });
  });

  it('ignores another incarnation while the holder is alive, takes it once lost or left', () => {
    const r = new WorkerRegistry(DEAD_MS);
    r.record(beat('inc-aaaa', 1), 0);
    expect(r.record(beat('inc-bbbb', 1), 500)).toBe('held');
    expect(r.get('a', 'w')?.incarnation).toBe('inc-aaaa');
    // Lost (silent past the dead bound): the new process takes the id.
    expect(r.record(beat('inc-bbbb', 2), 1_500)).toBeUndefined();
    expect(r.get('a', 'w')?.incarnation).toBe('inc-bbbb');
    // Left (drained, no processors): the next one takes it at once.
    r.record(beat('inc-bbbb', 3, []), 1_600);
    expect(r.record(beat('inc-cccc', 1), 1_700)).toBeUndefined();
    expect(r.ignored.held).toBe(1);
  });

  it('never lets a replay of a retired incarnation revive it, even after its record is gone', () => {
    const r = new WorkerRegistry(DEAD_MS);
    r.record(beat('inc-dead', 5), 0);
    // Long dead: the record is dropped (alive() sweeps), the incarnation is remembered.
    expect(r.alive('a', 100 * DEAD_MS)).toEqual([]);
    expect(r.get('a', 'w')).toBeUndefined();
    expect(r.record(beat('inc-dead', 5), 100 * DEAD_MS)).toBe('stale');
    expect(r.record(beat('inc-dead', 3), 100 * DEAD_MS)).toBe('stale');
    expect(r.get('a', 'w')).toBeUndefined();
    // The same process really back (a newer seq) is welcome.
    expect(r.record(beat('inc-dead', 6), 100 * DEAD_MS)).toBeUndefined();
  });
});

describe('worker registry free slots', () => {
  it('counts runs just sent against a worker until its next heartbeat, so a burst spreads', () => {
    const r = new WorkerRegistry(DEAD_MS);
    const slots = (workerId: string, freeSlots: number, seq = 1) => ({
      ...beat(`inc-${workerId}`, seq),
      workerId,
      metrics: { ...beat('x', 1).metrics, freeSlots, totalSlots: 4 },
    });
    let woken = 0;
    r.onJoined(() => woken++);
    r.record(slots('w1', 4), 0);
    r.record(slots('w2', 3), 0);
    const job = {
      processorName: 'p',
      designatedWorkers: [],
      tags: [],
      dispatchStrategy: 'HEALTH_FIRST' as const,
      minCpuCores: 0,
      minMemoryMb: 0,
      maxWorkerCount: 0,
    };
    const first = () => selectWorkers(r.alive('a', 100), job).ordered[0]?.workerId;
    expect(first()).toBe('w1');
    r.reserve('a', 'w1', 4);
    expect(r.get('a', 'w1')?.metrics.freeSlots).toBe(0);
    expect(first()).toBe('w2');
    // Its next heartbeat says what is free now; a slot it never lacked wakes nothing.
    woken = 0;
    r.record(slots('w1', 2, 2), 200);
    expect(r.get('a', 'w1')?.metrics.freeSlots).toBe(2);
    expect(woken).toBe(0);
  });
});
