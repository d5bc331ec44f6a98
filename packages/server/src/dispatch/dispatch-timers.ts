import type { Dispatcher } from './dispatcher.js';

/**
 * In-process timers that dispatch instances at their due time with
 * millisecond precision. Losing them (a crash) only delays a run: the rows
 * are already waiting, and the next scan of any server arms them again.
 */
export class DispatchTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly dispatcher: Dispatcher) {}

  /** Arms (once) a dispatch of `instanceId` in `delayMs`. */
  arm(instanceId: string, delayMs: number): void {
    if (this.closed || this.timers.has(instanceId)) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(instanceId);
        const run: Promise<void> = this.dispatcher
          .dispatch(instanceId)
          .finally(() => this.running.delete(run));
        this.running.add(run);
      },
      Math.max(0, delayMs),
    );
    this.timers.set(instanceId, timer);
  }

  get armed(): number {
    return this.timers.size;
  }

  /** Clears pending timers and waits for dispatches already under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
