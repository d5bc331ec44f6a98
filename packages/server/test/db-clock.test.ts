import { describe, expect, it } from 'vitest';
import { DbClock } from '../src/scheduling/db-clock.js';

// The server's view of the database clock, from round trips of
// `SELECT clock_timestamp()`. Under load a round trip takes hundreds of ms,
// split unevenly: its midpoint is that far off, and fire times with it (a
// CRON slot sent 400 ms early or late was seen on a loaded machine). The
// clock keeps the reading with the shortest round trip, and follows a step
// of the database clock at once. It reads the earliest the database clock
// can be, given that reading's round trip.

const TRUE_OFFSET = 1_000_000;

describe('DbClock', () => {
  it('keeps the offset of the shortest round trip, not the latest', () => {
    const clock = new DbClock();
    clock.add({ offset: TRUE_OFFSET + 0.2, rttMs: 0.8 });
    // A slow round trip whose reply came early: its midpoint is 300 ms off.
    clock.add({ offset: TRUE_OFFSET - 300, rttMs: 700 });
    const off = clock.now() - performance.now() - TRUE_OFFSET;
    expect(Math.abs(off)).toBeLessThan(1);
  });

  it('follows a step of the database clock at once', () => {
    const clock = new DbClock();
    clock.add({ offset: TRUE_OFFSET, rttMs: 0.5 });
    // Two seconds later, even read through a slow round trip.
    clock.add({ offset: TRUE_OFFSET + 2_000, rttMs: 200 });
    const off = clock.now() - performance.now() - TRUE_OFFSET;
    expect(off).toBeGreaterThan(1_800);
  });

  it('names its estimate anew when the clock steps (workers time dispatches against it)', () => {
    const clock = new DbClock();
    const unsynced = clock.id; // now() is the wall clock until the first reading
    clock.add({ offset: TRUE_OFFSET, rttMs: 0.5 });
    const before = clock.id;
    expect(before).not.toBe(unsynced);
    clock.add({ offset: TRUE_OFFSET + 0.1, rttMs: 0.4 });
    expect(clock.id).toBe(before);
    clock.add({ offset: TRUE_OFFSET + 2_000, rttMs: 0.5 });
    expect(clock.id).not.toBe(before);
    expect(new DbClock().id).not.toBe(new DbClock().id); // per server process
  });

  it('forgets readings older than its window', () => {
    const clock = new DbClock();
    clock.add({ offset: TRUE_OFFSET, rttMs: 0.1 });
    // A slow drift (within the step detector's slack) outlives the best reading's window.
    for (let i = 1; i <= 20; i++) clock.add({ offset: TRUE_OFFSET + 6, rttMs: 4 });
    const off = clock.now() - performance.now() - TRUE_OFFSET;
    expect(off).toBeCloseTo(4, 0); // those readings' earliest: 6 - 4 / 2
  });

  it('reads the earliest the database clock can be: never ahead of it', () => {
    const clock = new DbClock();
    // The database read its clock somewhere in this 3 ms round trip: 1.5 ms
    // before the midpoint at the earliest. A run timed by a clock reading
    // later than that could start before its slot.
    clock.add({ offset: TRUE_OFFSET, rttMs: 3 });
    const off = clock.now() - performance.now() - TRUE_OFFSET;
    expect(off).toBeCloseTo(-1.5, 1);
  });
});
