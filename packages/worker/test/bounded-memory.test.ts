import { expect, it } from 'vitest';
import { BoundedMemory } from '../src/runtime/fences.js';

// A worker's fences remember the latest epochs and task attempts within a
// bound: the oldest entries are forgotten first, and a write refreshes age.

it('keeps at least the latest `max` entries and never more than 1/16 over', () => {
  const memory = new BoundedMemory<number>(160);
  for (let i = 0; i < 1_000; i++) {
    memory.set(`k${i}`, i);
    expect(memory.size).toBeLessThanOrEqual(170);
  }
  for (let i = 1_000 - 160; i < 1_000; i++) expect(memory.get(`k${i}`)).toBe(i);
  expect(memory.get('k0')).toBeUndefined();
});

it('forgets the oldest first, counting a rewrite as new', () => {
  const memory = new BoundedMemory<string>(16);
  for (let i = 0; i < 16; i++) memory.set(`k${i}`, 'v');
  memory.set('k0', 'again'); // refreshed: now the newest
  for (let i = 16; i < 40; i++) memory.set(`k${i}`, 'v');
  // 40 writes of 40 keys (k0 twice): the latest 16 are k24..k39; k0 went with the old ones.
  for (let i = 24; i < 40; i++) expect(memory.get(`k${i}`)).toBe('v');
  expect(memory.get('k1')).toBeUndefined();
  expect(memory.get('k0')).toBeUndefined();
  // A refreshed key outlives keys written before its refresh.
  const fresh = new BoundedMemory<string>(16);
  for (let i = 0; i < 16; i++) fresh.set(`k${i}`, 'v');
  fresh.set('k0', 'again');
  for (let i = 16; i < 31; i++) fresh.set(`k${i}`, 'v');
  expect(fresh.get('k0')).toBe('again');
  expect(fresh.get('k1')).toBeUndefined();
});
