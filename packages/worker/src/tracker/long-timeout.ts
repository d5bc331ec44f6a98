import { monotonicMs } from '@drover/protocol';

// The longest delay a Node timer holds: a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
}

/**
 * `setTimeout` for any delay: user intervals (retry backoffs, run timeouts,
 * FIXED_RATE periods) may exceed what one timer holds, so a long wait is
 * chained in pieces, each measured on the monotonic clock.
 */
export function setLongTimeout(fire: () => void, delayMs: number): LongTimeout {
  const due = monotonicMs() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = due - monotonicMs();
    timer =
      left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fire, Math.max(0, left));
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
