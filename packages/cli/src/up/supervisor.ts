import pRetry from 'p-retry';
import type { Logger } from 'pino';
import { STOP_GRACE_MS, stopChild, type WatchedChild } from './child-watch.js';

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
  /** Told the new pid once a restarted child is ready (e.g. to record it in the data-dir lock). */
  onRestart?: (pid: number) => Promise<void>;
  stopSignal: NodeJS.Signals;
  /** How long the child gets to exit on `stopSignal` before SIGKILL. */
  stopGraceMs?: number;
  log: Logger;
}

const BACKOFF = { minTimeout: 200, maxTimeout: 10_000, factor: 2, randomize: true } as const;

export function supervise(options: SuperviseOptions): Supervised {
  const { name, log, stopSignal } = options;
  const grace = options.stopGraceMs ?? STOP_GRACE_MS;
  const abort = new AbortController();
  let current: WatchedChild = options.first;
  let killed = false;
  const stopIt = async (watched: WatchedChild) => {
    if (!(await stopChild(watched, stopSignal, grace))) killed = true;
  };

  const watch = async () => {
    for (;;) {
      const exit = await current.exited;
      if (abort.signal.aborted) return;
      log.warn({ ...exit, pid: current.child.pid }, `${name} exited unexpectedly; restarting it`);
      // A child that became ready after stop() is stopped here: p-retry drops what an aborted attempt returns.
      let started: WatchedChild | undefined;
      const next = await pRetry(
        async () => {
          started = await options.restart(abort.signal);
          if (abort.signal.aborted) throw abort.signal.reason;
          return started;
        },
        {
          ...BACKOFF,
          retries: Number.POSITIVE_INFINITY,
          signal: abort.signal,
          onFailedAttempt: ({ error, attemptNumber }) =>
            log.warn(
              { attempt: attemptNumber, reason: error.message },
              `${name} restart failed, retrying`,
            ),
        },
      ).catch(() => undefined);
      if (abort.signal.aborted) {
        if (started) await stopIt(started);
        return;
      }
      if (!next) return;
      current = next;
      if (next.child.pid !== undefined)
        await options
          .onRestart?.(next.child.pid)
          .catch((err: Error) =>
            log.warn({ err: err.message }, `could not record ${name}'s new pid`),
          );
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
      await stopIt(current);
      await watching;
      if (killed)
        throw new Error(
          `${name} did not stop within ${grace / 1000} s of ${stopSignal}; it was killed (SIGKILL)`,
        );
    },
  };
}
