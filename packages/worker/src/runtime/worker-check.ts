import { DroverError, isRetryable, routes } from '@drover/protocol';
import type { DroverLogger as Logger } from '@drover/transport';
import { askAll, type Bus } from '@drover/transport';
import pRetry, { AbortError } from 'p-retry';

// A worker the servers refuse (no such app, or its worker id held by another
// live process) would heartbeat forever and never be given work. It asks
// every server first: one accepting is enough (all share one database, so
// they agree; several clusters on one NATS do not); a refusal from all that
// answered ends it; no server answering (down, slow, Postgres away), or a
// holder of the id that may be dead (a quick restart), is asked again with backoff.

/** The servers refused this worker (its app, or its worker id). */
export class WorkerRefusedError extends Error {
  override name = 'WorkerRefusedError';
}

export interface WorkerCheck {
  /**
   * Settles with the first try: rejects if refused then, resolves otherwise
   * (accepted or no answer yet). Waiting out a holder of the id that may have
   * stopped is not a try: it settles once that holder is found alive or lost.
   */
  firstTry: Promise<void>;
  /** Resolves once a server accepts; rejects with WorkerRefusedError when refused. */
  verdict: Promise<void>;
}

export function checkWorker(
  bus: Bus,
  request: { app: string; workerId: string; incarnation: string },
  where: string,
  log: Logger,
  signal: AbortSignal,
): WorkerCheck {
  let firstTried: () => void = () => undefined;
  const firstTryDone = new Promise<void>((resolve) => {
    firstTried = resolve;
  });

  let heldLogged = false;
  const verdict = pRetry(
    async (): Promise<void> => {
      const answers = await askAll(
        bus.nc,
        routes.server.checkWorker,
        { app: request.app },
        request,
        (reply) => reply.accepted,
      );
      const replies = answers.flatMap((a) => ('reply' in a ? [a.reply] : []));
      if (replies.some((r) => r.accepted)) return;
      const reply = replies[0];
      // Only errors (e.g. Postgres away on every server): the first one says whether to retry.
      if (!reply) throw answers.map((a) => ('error' in a ? a.error : undefined))[0];
      throw new AbortError(
        new WorkerRefusedError(
          `the servers refused worker ${request.workerId} of app ${request.app}: ` +
            `${reply.reason ?? 'refused'} (check DROVER_APP and DROVER_WORKER_ID)`,
        ),
      );
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 250,
      maxTimeout: 5_000,
      factor: 2,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => isRetryable(error),
      onFailedAttempt: ({ error, attemptNumber }) => {
        // A holder of the id that may have stopped is waited out (it is found
        // alive within a beat, or lost within the dead bound): this is no
        // outage, so the start waits for the verdict.
        if (error instanceof DroverError && error.code === 'WORKER_ID_HELD') {
          if (!heldLogged)
            log.warn(
              { app: request.app },
              `worker id ${request.workerId} is held by a process that has gone silent; waiting until it counts as lost`,
            );
          heldLogged = true;
          return;
        }
        firstTried();
        if (!isRetryable(error)) return;
        // The first miss, then every tenth: a long outage is not a flood of lines.
        if (attemptNumber === 1 || attemptNumber % 10 === 0)
          log.warn(
            { attempt: attemptNumber, nats: where, reason: error.message },
            `no server accepted worker ${request.workerId} of app ${request.app} over NATS at ${where} yet; retrying`,
          );
      },
    },
  );
  const firstTry = Promise.race([verdict, firstTryDone]);
  // Whoever awaits only firstTry still must not leave the verdict unhandled.
  verdict.catch(() => undefined);
  return { firstTry, verdict };
}
