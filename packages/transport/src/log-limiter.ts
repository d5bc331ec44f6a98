import { monotonicMs } from '@drover/protocol';
import type { DroverLogger as Logger } from './logger.js';

/**
 * Logs at most once per interval and counts what it held back, so a flood of
 * garbage cannot flood the logs too.
 */
export class LogLimiter {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = monotonicMs();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressed: this.suppressed }, message);
    this.lastAt = now;
    this.suppressed = 0;
  }
}
