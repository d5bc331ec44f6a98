import { expect, it } from 'vitest';
import { MAX_CORRECTION_MS, TransitFloor } from '../src/runtime/transit-floor.js';

// A message's delay beyond the quickest recent one of the same sender clock.

it('measures each message against the quickest recent one of its sender', () => {
  const floor = new TransitFloor();
  expect(floor.excess('a', 1_000, 5_001)).toBe(0); // the first sets the floor (offset 4,001)
  expect(floor.excess('a', 1_010, 5_018)).toBe(7); // 7 ms slower than that
  expect(floor.excess('a', 1_020, 5_020.5)).toBe(0); // quicker: the new floor (offset 4,000.5)
  expect(floor.excess('a', 1_030, 5_033)).toBe(2.5);
  // Another sender's clock is another scale.
  expect(floor.excess('b', 90_000, 5_040)).toBe(0);
  expect(floor.excess('b', 90_010, 5_052)).toBe(2);
});

it('forgets samples older than its window', () => {
  const floor = new TransitFloor();
  floor.excess('a', 0, 1); // quick, then 10 s of messages 5 ms slower
  expect(floor.excess('a', 9_000, 9_006)).toBe(5);
  expect(floor.excess('a', 11_000, 11_006)).toBe(0); // the quick one is out of the window
});

it('takes a gap over the bound for a clock step: no correction, and a new floor', () => {
  const floor = new TransitFloor();
  floor.excess('a', 1_000, 1_001);
  // The sender's clock stepped back 5 s: its messages look 5 s slower.
  expect(floor.excess('a', -3_990, 1_012)).toBe(0);
  expect(floor.excess('a', -3_980, 1_024)).toBe(2); // measured against the new floor
  expect(floor.excess('a', -3_970, 1_032 + MAX_CORRECTION_MS)).toBe(MAX_CORRECTION_MS);
});
