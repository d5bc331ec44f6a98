import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttle } from '../src/ui/throttle.js';

describe('throttle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the first call at once, and a burst once more at the end of the window', () => {
    const fn = vi.fn();
    const t = throttle(fn, 2_000);
    t.call();
    expect(fn).toHaveBeenCalledTimes(1); // a lost worker shows without waiting for the window
    t.call();
    t.call();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2_000);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(2_000);
    expect(fn).toHaveBeenCalledTimes(2);
    t.call();
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('runs nothing after cancel', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1_000);
    t.call();
    t.call();
    t.cancel();
    vi.advanceTimersByTime(5_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
