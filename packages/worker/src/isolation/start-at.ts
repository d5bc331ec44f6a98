// performance.now(), not @drover/protocol's monotonicMs: processor threads load
// this file, and import nothing they do not need.
const monotonicMs = () => performance.now();

// A Node timer may fire up to a millisecond before a fractional target: the
// rest is waited out here, so nothing starts before its time (a processor
// that reads the clock must see its slot, not the millisecond before it).
const SPIN_LIMIT_MS = 1;

/**
 * Calls held until a moment on this thread's monotonic clock. Calls due in the
 * same millisecond share one timer and run in one loop, in the order added: a
 * fleet of runs due together starts back to back.
 */
export class StartAt {
  private readonly groups = new Map<number, (() => void)[]>();

  /** Calls `call` at `when` (monotonic ms), or now if that has passed. */
  at(when: number, call: () => void): void {
    const now = monotonicMs();
    if (when <= now) {
      call();
      return;
    }
    const key = Math.ceil(when);
    const group = this.groups.get(key);
    if (group) {
      group.push(call);
      return;
    }
    this.groups.set(key, [call]);
    setTimeout(() => this.fire(key), key - now);
  }

  private fire(key: number): void {
    const left = key - monotonicMs();
    if (left > SPIN_LIMIT_MS) {
      setTimeout(() => this.fire(key), left);
      return;
    }
    while (monotonicMs() < key);
    const calls = this.groups.get(key) ?? [];
    this.groups.delete(key);
    for (const call of calls) call();
  }
}
