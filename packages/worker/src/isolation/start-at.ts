// The process's monotonic clock (process.hrtime), in ms: one scale in every
// thread of the process, so a start time crosses to a processor thread as it
// is and the time the hand-over took is not added to it. (performance.now()
// counts from each thread's own start, and early in a thread's life it slips
// by a few ms against both clocks.) Imports nothing: processor threads load it.
export const processClockMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** `at` (this thread's performance.now() ms) on the process clock. */
export const toProcessClock = (at: number): number => at - performance.now() + processClockMs();

// Node timers count whole milliseconds from a loop time that may be a little
// stale: the timer is set this much early and the rest is waited out here, so
// nothing starts before its time (a processor reading the clock must see its
// slot) and the start is not late by the timer's rounding.
const SPIN_LIMIT_MS = 1;
// The rest is slept (a futex wait; it wakes ~0.1 ms late at most, timer
// slack, and what is left then is spun), not spun: four processor threads
// spinning at a CRON slot on two cores kept each other, and the main
// threads, off the CPU, and whole threads' starts came a scheduler
// timeslice (~5 ms) late. Where SharedArrayBuffer is missing, it spins.
const sleeper =
  typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

interface Group {
  /** The latest time of the group's calls: none starts before its own. */
  until: number;
  calls: (() => void)[];
}

/**
 * Calls held until a moment on the process clock. Calls due in the same
 * millisecond share one timer and run in one loop, in the order added: a
 * fleet of runs due together starts back to back.
 */
export class StartAt {
  private readonly groups = new Map<number, Group>();

  /** Calls `call` at `when` (process clock ms), or now if that has passed. */
  at(when: number, call: () => void): void {
    const now = processClockMs();
    if (when <= now) {
      call();
      return;
    }
    const key = Math.ceil(when);
    const group = this.groups.get(key);
    if (group) {
      group.calls.push(call);
      if (when > group.until) group.until = when;
      return;
    }
    this.groups.set(key, { until: when, calls: [call] });
    setTimeout(() => this.fire(key), Math.max(0, when - now - SPIN_LIMIT_MS));
  }

  private fire(key: number): void {
    const group = this.groups.get(key);
    if (!group) return;
    const left = group.until - processClockMs();
    if (left > SPIN_LIMIT_MS) {
      setTimeout(() => this.fire(key), left - SPIN_LIMIT_MS);
      return;
    }
    const rest = group.until - processClockMs();
    if (rest > 0 && sleeper) Atomics.wait(sleeper, 0, 0, rest);
    while (processClockMs() < group.until); // what the wake-up left: microseconds
    this.groups.delete(key);
    for (const call of group.calls) call();
  }
}
