import { isRetryable, NoRespondersError, routes, Timing } from '@drover/protocol';
import { askAll, type Bus } from '@drover/transport';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';

// A worker whose app or secret the servers refuse would heartbeat forever and
// never be given work. It asks every server first: one accepting is enough
// (all share one database, so they agree; several clusters on one NATS do
// not); a refusal from all that answered ends it; no server answering (down,
// slow, Postgres away) is asked again with backoff.
//
// A server older than the check (a rolling upgrade) has no check_worker_secret
// but answers query_cluster, whose list of live workers holds only workers
// whose heartbeat (carrying the secret) it accepted: listed there is accepted.
// Still not listed UNLISTED_MS after the first such answer is no verdict: the
// caller warns once, and nobody asks again.

/** The servers refused this worker's app or secret. */
export class WorkerRefusedError extends Error {
  override name = 'WorkerRefusedError';
}

/** How the secret was accepted: by the check, by a server listing this worker, or not known. */
export type SecretVerdict = 'checked' | 'heartbeat-accepted' | 'unconfirmed';

export interface SecretCheck {
  /** Settles with the first try: rejects if refused then, resolves otherwise (accepted or no answer yet). */
  firstTry: Promise<void>;
  /** Resolves once the asking ends without a refusal; rejects with WorkerRefusedError when refused. */
  verdict: Promise<SecretVerdict>;
}

/** How long a server without the check may answer without listing this worker (heartbeats every second). */
export const UNLISTED_MS = 5 * Timing.WORKER_HEARTBEAT_MS;

/** A server answered query_cluster but does not list this worker (yet). */
class NotListedError extends Error {
  override name = 'NotListedError';
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
  let firstUnlistedAt: number | undefined;

  /** Without the check: does a server list this worker among its live ones? */
  const listedByOlderServer = async (noCheck: NoRespondersError): Promise<SecretVerdict> => {
    const cluster = await bus
      .ask(routes.server.queryCluster, { app: request.app }, {})
      .catch((err: unknown) => {
        // No server at all (or none reachable): an outage, asked again.
        throw err instanceof NoRespondersError ? noCheck : err;
      });
    if (cluster.workers.some((w) => w.workerId === request.workerId)) return 'heartbeat-accepted';
    firstUnlistedAt ??= Date.now();
    if (Date.now() - firstUnlistedAt < UNLISTED_MS) throw new NotListedError('not listed yet');
    return 'unconfirmed';
  };

  const verdict = pRetry(
    async (): Promise<SecretVerdict> => {
      const answers = await askAll(
        bus.nc,
        routes.server.checkWorkerSecret,
        { app: request.app },
        request,
        (reply) => reply.accepted,
      ).catch((err: unknown) => {
        if (err instanceof NoRespondersError) return err;
        throw err;
      });
      if (answers instanceof NoRespondersError) return listedByOlderServer(answers);
      const replies = answers.flatMap((a) => ('reply' in a ? [a.reply] : []));
      if (replies.some((r) => r.accepted)) return 'checked';
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
      shouldRetry: ({ error }) => error instanceof NotListedError || isRetryable(error),
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
  const firstTry = Promise.race([verdict.then(() => undefined), firstTryDone]);
  // Whoever awaits only firstTry still must not leave the verdict unhandled.
  verdict.catch(() => undefined);
  return { firstTry, verdict };
}
