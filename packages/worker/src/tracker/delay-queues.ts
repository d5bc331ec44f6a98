import { monotonicMs } from '@drover/protocol';

// The longest delay a Node timer holds: a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending call; `cancel` unlinks it (constant time). */
export interface Pending {
  cancel(): void;
}

interface Entry extends Pending {
  due: number;
  fire: () => void;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Calls due after the same delay: added in due order, so a list in insertion order is sorted. */
class DelayQueue {
  private head: Entry | undefined;
  private tail: Entry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.NEGATIVE_INFINITY;

  constructor(private readonly delayMs: number) {}

  add(fire: () => void): Pending {
    const entry: Entry = {
      due: monotonicMs() + this.delayMs,
      fire,
      prev: this.tail,
      next: undefined,
      cancel: () => this.unlink(entry),
    };
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    if (!this.timer) this.arm();
    return entry;
  }

  private unlink(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else if (this.head === entry) this.head = entry.next;
    else return; // fired or cancelled already
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    // Nothing left to wait for: let the process exit as it would with a cleared timer.
    if (!this.head && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(): void {
    const head = this.head;
    if (!head) return;
    const left = Math.max(0, head.due - monotonicMs());
    // A wait longer than one timer holds goes in pieces: the first fires nothing.
    this.armedFor = left > MAX_TIMER_MS ? Number.NEGATIVE_INFINITY : head.due;
    this.timer = setTimeout(() => this.fireDue(), Math.min(left, MAX_TIMER_MS));
  }

  private fireDue(): void {
    this.timer = undefined;
    const now = monotonicMs();
    // Timers may fire a fraction of a millisecond early: what was due by then goes now.
    const until = Math.max(now, this.armedFor);
    for (let e = this.head; e && e.due <= until; e = this.head) {
      this.unlink(e);
      e.fire();
    }
    if (!this.timer) this.arm();
  }
}

/**
 * A worker's run timers (progress beats, run timeouts): one Node timer per
 * distinct delay instead of two per run. Starting a run arms a beat and a
 * timeout; with a timer each that was ~5 µs of a run's start.
 */
export class DelayQueues {
  private readonly queues = new Map<number, DelayQueue>();

  /** Calls `fire` once after `delayMs` (any length). */
  after(delayMs: number, fire: () => void): Pending {
    const delay = Math.max(0, Math.round(delayMs));
    let queue = this.queues.get(delay);
    if (!queue) {
      queue = new DelayQueue(delay);
      this.queues.set(delay, queue);
    }
    return queue.add(fire);
  }

  /** Calls `fire` every `intervalMs` until cancelled. */
  every(intervalMs: number, fire: () => void): Pending {
    let current: Pending;
    const tick = () => {
      current = this.after(intervalMs, tick);
      fire();
    };
    current = this.after(intervalMs, tick);
    return { cancel: () => current.cancel() };
  }
}

/** The process's run timers, shared by its TaskTrackers. */
export const runTimers = new DelayQueues();
