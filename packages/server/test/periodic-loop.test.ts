import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeriodicLoop } from '../src/periodic-loop.js';

// The sweeper's bounds count one period between rounds: a round's own time
// (pruning may take half of it) must not stretch that.

const log = pino({ level: 'silent' });

describe('PeriodicLoop', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  /** A loop whose rounds take `roundMs` each, and the times its rounds started. */
  function loopOf(intervalMs: number, roundMs: number) {
    const starts: number[] = [];
    const loop = new PeriodicLoop(
      'test',
      intervalMs,
      async () => {
        starts.push(performance.now());
        await new Promise((r) => setTimeout(r, roundMs));
      },
      log,
    );
    return { loop, starts };
  }

  /** Stops the loop, letting the round under way finish. */
  async function stopped(loop: PeriodicLoop): Promise<void> {
    const stop = loop.stop();
    await vi.advanceTimersByTimeAsync(2_000);
    await stop;
  }

  it('starts rounds one period apart, start to start, while each takes part of it', async () => {
    const { loop, starts } = loopOf(1_000, 400);
    const t0 = performance.now();
    loop.start();
    await vi.advanceTimersByTimeAsync(3_500);
    expect(starts.map((s) => s - t0)).toEqual([0, 1_000, 2_000, 3_000]);
    await stopped(loop);
  });

  it('after a round longer than half the period, rests half a period, not nothing', async () => {
    const { loop, starts } = loopOf(1_000, 1_500);
    const t0 = performance.now();
    loop.start();
    await vi.advanceTimersByTimeAsync(4_100);
    expect(starts.map((s) => s - t0)).toEqual([0, 2_000, 4_000]);
    await stopped(loop);
  });
});
