import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DelayQueues } from '../src/tracker/delay-queues.js';

// The worker's shared run timers (beats, timeouts): one Node timer per delay.

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DelayQueues', () => {
  it('fires each call after its own delay, in due order, sharing one timer per delay', () => {
    const timers = new DelayQueues();
    const fired: string[] = [];
    timers.after(100, () => fired.push('a'));
    vi.advanceTimersByTime(30);
    timers.after(100, () => fired.push('b'));
    timers.after(50, () => fired.push('c'));
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(49);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['c']);
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['c', 'a']);
    vi.advanceTimersByTime(29);
    expect(fired).toEqual(['c', 'a']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['c', 'a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a cancelled call never fires, wherever it is in its queue; an empty queue holds no timer', () => {
    const timers = new DelayQueues();
    const fired: number[] = [];
    const calls = [0, 1, 2, 3].map((n) => {
      vi.advanceTimersByTime(10);
      return timers.after(100, () => fired.push(n));
    });
    calls[0]?.cancel();
    calls[2]?.cancel();
    calls[2]?.cancel(); // twice is harmless
    vi.advanceTimersByTime(200);
    expect(fired).toEqual([1, 3]);
    const last = timers.after(100, () => fired.push(4));
    last.cancel();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(200);
    expect(fired).toEqual([1, 3]);
  });

  it('repeats with `every` until cancelled, also from inside its own call', () => {
    const timers = new DelayQueues();
    let beats = 0;
    const beat = timers.every(1_000, () => {
      beats++;
      if (beats === 3) beat.cancel();
    });
    vi.advanceTimersByTime(10_000);
    expect(beats).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits past what one Node timer holds (2^31-1 ms), not firing early', () => {
    const timers = new DelayQueues();
    const fired = vi.fn();
    timers.after(3e9, fired);
    vi.advanceTimersByTime(3e9 - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
  });
});
