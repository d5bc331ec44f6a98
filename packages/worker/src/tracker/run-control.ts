import { type AbortSource, LazyAbort } from './abort-source.js';
import type { Outcome } from './attempts.js';

/**
 * How a TaskTracker's run is ended from outside: stopped (timeout, user,
 * server) or handed back (worker drain), with the status its final report
 * then carries.
 */
export class RunControl {
  private readonly abort = new LazyAbort();
  private handingBack = false;

  /** Aborted on stop and hand-back; processors see its signal as `ctx.signal`. */
  get source(): AbortSource {
    return this.abort;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get stopped(): boolean {
    return this.abort.aborted;
  }

  stop(reason: string): void {
    if (!this.abort.aborted) this.abort.abort(new Error(reason));
  }

  /** Ends the run here so the server gives it to another worker. */
  handBack(reason: string): void {
    this.handingBack = true;
    this.stop(reason);
  }

  /** A run stopped by a hand-back (not finished meanwhile) goes back to the server's queue. */
  reportedStatus(status: Outcome['status']): Outcome['status'] | 'WAITING_DISPATCH' {
    return this.handingBack && status === 'STOPPED' ? 'WAITING_DISPATCH' : status;
  }
}
