import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLongTimeout } from '../src/tracker/long-timeout.js';

// A Node timer fires at once when asked to wait past 2^31-1 ms; user waits
// (run timeouts, retry backoffs, FIXED_RATE intervals) may be longer.

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('setLongTimeout', () => {
  it('fires after a wait past what one timer holds, not before', () => {
    const fired = vi.fn();
    setLongTimeout(fired, 3e9);
    vi.advanceTimersByTime(3e9 - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('can be cleared at any point of a long wait', () => {
    const fired = vi.fn();
    const timer = setLongTimeout(fired, 5e9);
    vi.advanceTimersByTime(2 ** 31 + 10);
    timer.clear();
    vi.advanceTimersByTime(5e9);
    expect(fired).not.toHaveBeenCalled();
  });
});
