/**
 * A run's stop switch as the code that runs it sees it. The AbortSignal a
 * processor gets (`ctx.signal`) is made on first use: making one costs
 * ~4 µs, a sixth of starting a run, and most processors never read it
 * (1,000 CRON runs start in one turn; docs/benchmarks.md).
 */
export interface AbortSource {
  readonly aborted: boolean;
  /** Why it was aborted (an Error), once it was. */
  readonly reason: unknown;
  readonly signal: AbortSignal;
  /** Calls `listener` once, when it aborts (at once if it has); the result forgets it. */
  onAbort(listener: () => void): () => void;
}

/** A stop switch that makes its AbortController only when someone asks for the signal. */
export class LazyAbort implements AbortSource {
  private controller: AbortController | undefined;
  private why: Error | undefined;
  private listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.why !== undefined;
  }

  get reason(): unknown {
    return this.why;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.why) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  onAbort(listener: () => void): () => void {
    if (this.why) {
      listener();
      return () => undefined;
    }
    this.listeners ??= [];
    const listeners = this.listeners;
    listeners.push(listener);
    return () => {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    };
  }

  abort(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const listener of listeners) listener();
  }
}

/** An AbortSource over an existing signal (a ProcessorTracker's, a test's). */
export function signalSource(signal: AbortSignal): AbortSource {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason;
    },
    signal,
    onAbort(listener) {
      if (signal.aborted) {
        listener();
        return () => undefined;
      }
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}
