import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pRetry from 'p-retry';
import type { Logger } from 'pino';

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
}

/**
 * Connects to NATS, retrying the first connection forever with exponential
 * backoff and jitter (a slow NATS must not crash-loop us), then reconnecting
 * forever once connected.
 */
export function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const { log } = options;
  return pRetry(
    () =>
      connect({
        servers: options.servers,
        name: options.name,
        user: options.user,
        pass: options.pass,
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
      onFailedAttempt: ({ error, attemptNumber }) =>
        log.warn(
          { attempt: attemptNumber, reason: error.message },
          'NATS not reachable yet, retrying',
        ),
    },
  );
}
