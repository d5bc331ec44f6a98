import { monotonicMs } from '@drover/protocol';
import type { Dispatcher } from './dispatcher.js';
import type { DispatchContext } from './load-for-dispatch.js';

// Instances due in the same millisecond are dispatched as one batch.
const MAX_BATCH = 500;
// The longest delay a Node timer holds (a longer one fires at once).
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * In-process timers that dispatch instances at their due time with
 * millisecond precision. Losing them (a crash) only delays a run: the rows
 * are already waiting, and the next scan of any server arms them again.
 */
export class DispatchTimers {
  private readonly armed = new Set<string>();
  private readonly buckets = new Map<number, { ids: string[]; timer: NodeJS.Timeout }>();
  // Runs already due, armed in this turn of the event loop (e.g. one scan's
  // overdue rows): dispatched together, so they reach a worker in one message.
  private dueNow: string[] = [];
  private dueNowFlush: NodeJS.Immediate | undefined;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    /** Timed runs wake this much early, to be sent ahead of their time (see `dispatchLeadMs`). */
    private readonly leadMs = 0,
  ) {
    // A run that cannot go ahead of its time (a limited job, a worker that
    // cannot hold it) is woken again at its time.
    dispatcher.sendAhead(leadMs, (id, dueInMs) => this.arm(id, dueInMs, 0));
  }

  /**
   * Arms (once) a dispatch of `instanceId`, due in `dueInMs`, `leadMs` before
   * that. A run due later than a timer holds is left to the scans, which arm
   * it once it is due soon.
   */
  arm(instanceId: string, dueInMs: number, leadMs = this.leadMs): void {
    const delayMs = dueInMs - leadMs;
    if (this.closed || this.armed.has(instanceId) || delayMs > MAX_TIMER_MS) return;
    this.armed.add(instanceId);
    if (Math.round(delayMs) <= 0) {
      this.dueNow.push(instanceId);
      this.dueNowFlush ??= setImmediate(() => this.flushDueNow());
      return;
    }
    const at = Math.round(monotonicMs()) + Math.max(0, Math.round(delayMs));
    const bucket = this.buckets.get(at);
    if (bucket) {
      bucket.ids.push(instanceId);
      return;
    }
    const ids = [instanceId];
    const timer = setTimeout(() => this.fire(at), Math.max(0, at - monotonicMs()));
    this.buckets.set(at, { ids, timer });
  }

  /** Dispatches a run due now that the caller holds, skipping the timer and the reload. */
  now(context: DispatchContext): void {
    if (this.closed) return;
    this.track(this.dispatcher.dispatchLoaded([context]));
  }

  private track(dispatch: Promise<void>): void {
    const run: Promise<void> = dispatch.finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private fire(at: number): void {
    const bucket = this.buckets.get(at);
    this.buckets.delete(at);
    if (bucket) this.dispatchIds(bucket.ids);
  }

  private flushDueNow(): void {
    const ids = this.dueNow;
    this.dueNow = [];
    this.dueNowFlush = undefined;
    this.dispatchIds(ids);
  }

  private dispatchIds(ids: string[]): void {
    for (const id of ids) this.armed.delete(id);
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      this.track(this.dispatcher.dispatch(ids.slice(i, i + MAX_BATCH)));
    }
  }

  /** Clears pending timers and waits for dispatches already under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const bucket of this.buckets.values()) clearTimeout(bucket.timer);
    this.buckets.clear();
    if (this.dueNowFlush) clearImmediate(this.dueNowFlush);
    this.dueNow = [];
    this.armed.clear();
    await Promise.allSettled([...this.running]);
  }
}
