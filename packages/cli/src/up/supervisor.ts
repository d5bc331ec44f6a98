import pRetry from 'p-retry';
import type { Logger } from 'pino';
import { stopChild, type WatchedChild } from './child-watch.js';

// A child of `drover up` (postgres, nats-server) that exits while `drover up`
// runs is started again, on the same port so the server and workers find it
// where they left it, with exponential backoff and jitter until it is back.

export interface Supervised {
  /** The child's current pid (a restart changes it). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  name: string;
  /** The running child (already ready). */
  first: WatchedChild;
  /** Starts it again, resolving once it is ready; stops what it started when `signal` aborts. */
  restart: (signal: AbortSignal) => Promise<WatchedChild>;
  stopSignal: NodeJS.Signals;
  log: Logger;
}

const BACKOFF = { minTimeout: 200, maxTimeout: 10_000, factor: 2, randomize: true } as const;

export function supervise(options: SuperviseOptions): Supervised {
  const { name, log } = options;
  const abort = new AbortController();
  let current: WatchedChild = options.first;

  const watch = async () => {
    for (;;) {
      const exit = await current.exited;
      if (abort.signal.aborted) return;
      log.warn({ ...exit, pid: current.child.pid }, `${name} exited unexpectedly; restarting it`);
      const next = await pRetry(() => options.restart(abort.signal), {
        ...BACKOFF,
        retries: Number.POSITIVE_INFINITY,
        signal: abort.signal,
        onFailedAttempt: ({ error, attemptNumber }) =>
          log.warn(
            { attempt: attemptNumber, reason: error.message },
            `${name} restart failed, retrying`,
          ),
      }).catch(() => undefined); // aborted by stop()
      if (!next) return;
      current = next;
      if (abort.signal.aborted) {
        await stopChild(next, options.stopSignal);
        return;
      }
      log.warn({ pid: next.child.pid }, `${name} restarted`);
    }
  };
  const watching = watch();

  return {
    get pid() {
      return current.child.pid;
    },
    async stop() {
      abort.abort();
      await stopChild(current, options.stopSignal);
      await watching;
    },
  };
}
