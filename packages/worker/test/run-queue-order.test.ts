import { ttMessages } from '@drover/protocol';
import { expect, it } from 'vitest';
import { RunQueue } from '../src/runtime/run-queue.js';
import { standaloneRun } from './support/standalone-run.js';

// The worker's queue of accepted runs waiting for a slot: oldest first,
// whatever was removed, queued again or replaced meanwhile, at any size.

// As the worker holds them: parsed at its edge.
const run = (id: string, epoch = 1) => ttMessages.RunJob.parse(standaloneRun(id, 'p', epoch));
const drain = (q: RunQueue) => q.takeAll().map((r) => `${r.instanceId}@${r.epoch}`);

it('takes runs oldest first, skipping removed ones; a run queued again goes to the back', () => {
  const q = new RunQueue(100);
  for (const id of ['1', '2', '3', '4']) q.add(run(id));
  q.remove('2');
  q.add(run('1', 2)); // queued again: now the newest
  q.replace(run('3', 3)); // a newer epoch keeps its place
  expect(q.size).toBe(3);
  expect(q.get('3')?.epoch).toBe(3);
  expect(q.next()?.instanceId).toBe('3');
  q.add(run('5'));
  expect(drain(q)).toEqual(['4@1', '1@2', '5@1']);
  expect(q.next()).toBeUndefined();
  expect(q.size).toBe(0);
});

it('keeps its order through 50,000 runs taken and removed in turns', () => {
  const q = new RunQueue(100_000);
  for (let i = 0; i < 50_000; i++) q.add(run(String(i)));
  const taken: number[] = [];
  for (let i = 0; i < 50_000; i += 2) {
    q.remove(String(i + 1)); // every odd one is stopped while queued
    taken.push(Number(q.next()?.instanceId));
  }
  expect(taken).toEqual(Array.from({ length: 25_000 }, (_, i) => i * 2));
  expect(q.size).toBe(0);
  // Removed without ever being taken: the queue stays usable and in order.
  for (let round = 0; round < 3; round++)
    for (let i = 0; i < 10_000; i++) {
      const id = String(100_000 * (round + 1) + i);
      q.add(run(id));
      if (i % 10 !== 0) q.remove(id);
    }
  const left = drain(q);
  expect(left).toHaveLength(3_000);
  expect(left[0]).toBe('100000@1');
  expect(left[2_999]).toBe('309990@1');
});
