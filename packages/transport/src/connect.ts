import { errors, type NatsConnection, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pRetry from 'p-retry';
import type { DroverLogger as Logger } from './logger.js';
import { requireSecuredNats } from './nats-security.js';
import { isTlsNotOffered, requiredTls } from './require-tls.js';
import { serversForLog } from './safe-url.js';
import { NATS_TLS_ADVICE, tlsCertificateProblem } from './tls-problem.js';

export interface ConnectOptions {
  servers: string | string[];
  /** Shown in `nats server report connections`. */
  name: string;
  user?: string;
  pass?: string;
  log: Logger;
  /** Stops retrying the first connection. */
  signal?: AbortSignal;
  /** Upper bound of one wait between first-connection tries. */
  maximumIntervalMs?: number;
  /** Throw NATS's AuthorizationError at once instead of retrying it (a worker with a refused credential exits). */
  failOnAuthError?: boolean;
  /** NATS user nkey seed (`SU…` text as bytes, see `readNkeySeedFile`); signs the server's challenge, never sent. */
  nkeySeed?: Uint8Array;
  /** Prefix of reply inboxes (`_INBOX_<app>` for a worker, `_INBOX_MON` for a monitor); default `_INBOX`. */
  inboxPrefix?: string;
  /** Accept a NATS that does not require authentication (one warning) instead of throwing `NatsNotSecuredError`. */
  insecureNats?: boolean;
}

/**
 * Connects to NATS, retrying the first connection forever with exponential
 * backoff and jitter (a slow NATS must not crash-loop us), then reconnecting
 * forever once connected. With `failOnAuthError`, refused credentials are
 * not retried: the AuthorizationError is thrown at once (see `isNatsAuthError`).
 * Once connected, a NATS that does not require authentication is refused
 * (`NatsNotSecuredError`) unless `insecureNats`.
 */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const { log } = options;
  const url = serversForLog(options.servers);
  const nc = await pRetry(
    () =>
      connect({
        servers: options.servers,
        name: options.name,
        user: options.user,
        pass: options.pass,
        ...(options.nkeySeed ? { authenticator: nkeyAuthenticator(options.nkeySeed) } : {}),
        ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
        ...requiredTls(options.servers),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 250,
        pingInterval: 10_000,
        // An Error (with its stack) per request costs more than it tells: our errors carry the subject.
        noAsyncTraces: true,
      }),
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: options.maximumIntervalMs ?? 5_000,
      factor: 2,
      randomize: true,
      signal: options.signal,
      shouldRetry: ({ error }) => !(options.failOnAuthError && isNatsAuthError(error)),
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (options.failOnAuthError && isNatsAuthError(error)) return;
        const tls = isTlsNotOffered(error)
          ? "it offers no TLS, which a tls:// URL requires (check the URL, and nats.conf's tls block)"
          : tlsCertificateProblem(error, NATS_TLS_ADVICE);
        log.warn(
          { attempt: attemptNumber, url, reason: error.message },
          tls
            ? `NATS at ${url} refused: ${tls}; retrying connect`
            : `NATS at ${url} not reachable yet, retrying connect`,
        );
      },
    },
  );
  await requireSecuredNats(nc, url, options.insecureNats ?? false, log);
  return nc;
}

/** NATS refused our user/password (or token): retrying cannot help. */
export function isNatsAuthError(err: unknown): boolean {
  return err instanceof errors.AuthorizationError;
}
