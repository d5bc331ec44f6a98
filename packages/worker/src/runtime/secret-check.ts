import { isRetryable, routes } from '@drover/protocol';
import { askAll, type Bus } from '@drover/transport';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';

// A worker whose app or secret the servers refuse would heartbeat forever and
// never be given work. It asks every server first: one accepting is enough
// (all share one database, so they agree; several clusters on one NATS do
// not); a refusal from all that answered ends it; no server answering (down,
// slow, Postgres away) is asked again with backoff.

/** The servers refused this worker's app or secret. */
export class WorkerRefusedError extends Error {
  override name = 'WorkerRefusedError';
}

export interface SecretCheck {
  /** Settles with the first try: rejects if refused then, resolves otherwise (accepted or no answer yet). */
  firstTry: Promise<void>;
  /** Resolves when a server accepted the secret; rejects with WorkerRefusedError when one refused it. */
  verdict: Promise<void>;
}

export function checkSecret(
  bus: Bus,
  request: { app: string; workerId: string; secret: string },
  where: string,
  log: Logger,
  signal: AbortSignal,
): SecretCheck {
  let firstTried: () => void = () => undefined;
  const firstTryDone = new Promise<void>((resolve) => {
    firstTried = resolve;
  });
  const verdict = pRetry(
    async () => {
      const answers = await askAll(
        bus.nc,
        routes.server.checkWorkerSecret,
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
            `${reply.reason ?? 'wrong app or secret'} (check DROVER_APP and DROVER_APP_SECRET)`,
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
        firstTried();
        if (!isRetryable(error)) return;
        // The first miss, then every tenth: a long outage is not a flood of lines.
        if (attemptNumber === 1 || attemptNumber % 10 === 0)
          log.warn(
            { attempt: attemptNumber, nats: where, reason: error.message },
            `no server answered the secret check of app ${request.app} over NATS at ${where}; retrying`,
          );
      },
    },
  );
  const firstTry = Promise.race([verdict, firstTryDone]);
  // Whoever awaits only firstTry still must not leave the verdict unhandled.
  verdict.catch(() => undefined);
  return { firstTry, verdict };
}
