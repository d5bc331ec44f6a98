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

it('takes a message held up past the bound off in full: one stall is not a clock step', () => {
  const floor = new TransitFloor();
  floor.excess('a', 1_000, 1_001);
  // A stalled event loop held this one 74 ms: its runs keep their time.
  expect(floor.excess('a', 1_010, 1_085)).toBe(74);
  // The next is on time, against the floor from before the stall.
  expect(floor.excess('a', 1_020, 1_023)).toBe(2);
  // Two stalls seconds apart, with no batch between them (slots 5 s apart), are two stalls.
  expect(floor.excess('a', 6_000, 6_081)).toBe(80);
  expect(floor.excess('a', 9_000, 9_071)).toBe(70);
});

it('takes gaps over the bound for a second on end, or one of a second, for a clock step: a new floor', () => {
  const floor = new TransitFloor();
  floor.excess('a', 1_000, 1_001);
  // The sender's clock stepped back 200 ms: its messages look 200 ms slower.
  expect(floor.excess('a', 800, 1_002)).toBe(201); // taken as held up, for now
  expect(floor.excess('a', 1_300, 1_502)).toBe(201);
  expect(floor.excess('a', 1_800, 2_003)).toBe(0); // a second on: a step, and the new floor
  expect(floor.excess('a', 1_810, 2_015)).toBe(2); // measured against it
  expect(floor.excess('a', 1_820, 2_023 + MAX_CORRECTION_MS)).toBe(MAX_CORRECTION_MS);
  // A step of 5 s is one at once.
  expect(floor.excess('a', -3_000, 2_100)).toBe(0);
  expect(floor.excess('a', -2_990, 2_112)).toBe(2);
});

it('keeps the sender’s encoding out of the transit when the publish moment is stamped', () => {
  const floor = new TransitFloor();
  // Two batches, each 0.4 ms on the wire; the first took 3 ms to encode after
  // its `sentAt`, the second 0.5 ms. Both would have arrived 0.4 ms after their
  // `sentAt` had they gone at once: a start counted from there is on time.
  expect(floor.arrivedAt('a', 1_000, 5_003.4, 1_003)).toBeCloseTo(5_000.4, 6);
  expect(floor.arrivedAt('a', 2_000, 6_000.9, 2_000.5)).toBeCloseTo(6_000.4, 6);
  // Unstamped (an older sender), the quickest whole trip is the floor: the
  // second message's 0.9 ms, encoding and all, stays in its arrival.
  const unstamped = new TransitFloor();
  expect(unstamped.arrivedAt('a', 1_000, 5_003.4)).toBe(5_003.4);
  expect(unstamped.arrivedAt('a', 2_000, 6_000.9)).toBeCloseTo(6_000.9, 6);
  // A stamp before `sentAt`, or implausibly late, is not believed.
  expect(floor.arrivedAt('a', 3_000, 7_000.4, 2_990)).toBeCloseTo(7_000.4, 6);
  expect(floor.arrivedAt('a', 4_000, 8_000.4, 4_000 + MAX_CORRECTION_MS + 1)).toBeCloseTo(
    8_000.4,
    6,
  );
});
