import { monotonicMs } from '@drover/protocol';
import { LogLimiter } from '@drover/transport';
import type { Logger } from 'pino';

/**
 * Runs `round` every `intervalMs`, start to start, never two at once, and at
 * once when triggered (triggers arriving meanwhile share one extra round). A
 * round's own time does not stretch the period: the bounds that count on
 * "one period" (the sweeper's, the scheduler's) hold while rounds take time.
 * A round longer than half the period is followed after half a period, as a
 * rest for a slow database (one loop keeps it busy at most 2/3 of the time
 * while rounds take up to a period). A failing round is logged (at most
 * every 10 s) and the loop goes on: it survives its own errors, e.g. while
 * Postgres is away.
 */
export class PeriodicLoop {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = true;
  private readonly failures: LogLimiter;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly body: () => Promise<void>,
    log: Logger,
  ) {
    this.failures = new LogLimiter(log);
  }

  start(): void {
    this.stopped = false;
    this.trigger();
  }

  /** Runs a round soon instead of waiting for the next tick. */
  trigger(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    clearTimeout(this.timer);
    let startedAt = 0;
    this.round = this.round
      .then(() => {
        this.queued = false;
        startedAt = monotonicMs();
        return this.body();
      })
      .catch((err: unknown) => {
        this.failures.warn(
          { err: (err as Error).message },
          `${this.name} round failed; retrying next round`,
        );
      })
      .finally(() => {
        if (this.stopped || this.queued) return;
        clearTimeout(this.timer);
        const left = this.intervalMs - (monotonicMs() - startedAt);
        this.timer = setTimeout(() => this.trigger(), Math.max(left, this.intervalMs / 2));
      });
  }

  /** Stops ticking and waits for a round under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }
}
