import type { LogLimiter } from './log-limiter.js';

/** What a handler asked to run once its reply is handed over (see `HandlerContext.afterReply`). */
export class AfterReply {
  private fns: (() => void)[] | undefined;

  /** `HandlerContext.afterReply`. */
  readonly add = (fn: () => void): void => {
    if (this.fns) this.fns.push(fn);
    else this.fns = [fn];
  };

  /**
   * Call once the reply is handed to the connection. NATS writes its buffer to
   * the socket in a microtask queued when the buffer was first filled, so the
   * callbacks, in a microtask queued now, run behind that write.
   */
  run(failures: LogLimiter): void {
    const fns = this.fns;
    if (!fns) return;
    this.fns = undefined;
    queueMicrotask(() => {
      for (const fn of fns) {
        try {
          fn();
        } catch (err) {
          failures.warn({ err }, 'after-reply callback failed');
        }
      }
    });
  }
}
