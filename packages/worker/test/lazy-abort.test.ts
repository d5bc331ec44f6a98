import { describe, expect, it, vi } from 'vitest';
import { LazyAbort } from '../src/tracker/abort-source.js';

// A run's stop switch makes its AbortSignal only when asked for it; whoever
// asks, before or after the stop, sees the same state and reason.

describe('LazyAbort', () => {
  it('a signal asked for before the stop aborts with the reason', () => {
    const abort = new LazyAbort();
    const { signal } = abort;
    const heard = vi.fn();
    signal.addEventListener('abort', heard);
    expect(signal.aborted).toBe(false);
    abort.abort(new Error('stopped by the user'));
    expect(heard).toHaveBeenCalledOnce();
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('stopped by the user');
  });

  it('a signal first asked for after the stop is already aborted, with the first reason', () => {
    const abort = new LazyAbort();
    abort.abort(new Error('timed out after 10 ms'));
    abort.abort(new Error('a second stop'));
    expect(abort.aborted).toBe(true);
    expect(abort.signal.aborted).toBe(true);
    expect((abort.signal.reason as Error).message).toBe('timed out after 10 ms');
  });

  it('calls listeners once; a forgotten one is not called; one added after the stop is called at once', () => {
    const abort = new LazyAbort();
    const kept = vi.fn();
    const forgotten = vi.fn();
    abort.onAbort(kept);
    const forget = abort.onAbort(forgotten);
    forget();
    abort.abort(new Error('stop'));
    abort.abort(new Error('stop again'));
    expect(kept).toHaveBeenCalledOnce();
    expect(forgotten).not.toHaveBeenCalled();
    const late = vi.fn();
    abort.onAbort(late);
    expect(late).toHaveBeenCalledOnce();
  });
});
