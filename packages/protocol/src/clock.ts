// Two clocks, for two jobs. The wall clock (Date.now) can jump when time
// sync steps it; it is only for timestamps people read or that are stored.
// Every age, deadline, backoff and interval inside a process is measured on
// the monotonic clock below, which only moves forward at a steady rate.

/** Milliseconds on this process's monotonic clock (not comparable across processes). */
export function monotonicMs(): number {
  return performance.now();
}
