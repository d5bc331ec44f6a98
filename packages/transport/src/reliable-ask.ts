import { randomUUID } from 'node:crypto';
import {
  type AddressOf,
  isRetryable,
  type ReplyOf,
  type RequestOf,
  type Route,
  TimeoutError,
} from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import pRetry from 'p-retry';
import { type AskOptions, ask } from './ask.js';

export interface ReliableAskOptions {
  /** Give up after this long in total (all tries and waits). */
  deadlineMs: number;
  /** Reused on every try so the receiver stores the message once; random when omitted. */
  idempotencyKey?: string;
  /** Per-try timeout; the route's default when omitted, never past the deadline. */
  timeoutMs?: number;
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
  backoffCoefficient?: number;
  traceId?: string;
  signal?: AbortSignal;
  /** Called before each retry, e.g. to log or count. */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * `ask` over NATS that retries timeouts, no-responders, disconnects and errors
 * the handler marked retryable (see `retrying`).
 */
export function reliableAsk<R extends Route>(
  nc: NatsConnection,
  route: R,
  address: AddressOf<R['actor']>,
  request: RequestOf<R>,
  options: ReliableAskOptions,
): Promise<ReplyOf<R>> {
  return retrying(route, options, (meta) => ask(nc, route, address, request, meta));
}

/**
 * Runs one try of an ask again and again: retries timeouts, no-responders, disconnects and errors the
 * handler marked retryable, with exponential backoff and jitter, until the
 * deadline. Every try carries the same idempotency key.
 */
export async function retrying<R extends Route>(
  route: R,
  options: ReliableAskOptions,
  once: (options: AskOptions) => Promise<ReplyOf<R>>,
): Promise<ReplyOf<R>> {
  const idempotencyKey = options.idempotencyKey ?? randomUUID();
  const perTry = options.timeoutMs ?? route.timeoutMs;
  const deadline = performance.now() + options.deadlineMs;
  let lastError: unknown;
  return pRetry(
    (attempt) => {
      const remaining = Math.floor(deadline - performance.now());
      // The backoff wait ran into the deadline: what failed last is the useful error.
      if (remaining <= 0) throw lastError ?? new TimeoutError(route.handler, options.deadlineMs);
      return once({
        idempotencyKey,
        attempt,
        traceId: options.traceId,
        timeoutMs: Math.min(perTry, remaining),
      });
    },
    {
      retries: Number.POSITIVE_INFINITY,
      maxRetryTime: options.deadlineMs,
      minTimeout: options.initialIntervalMs ?? 20,
      maxTimeout: options.maximumIntervalMs ?? 2_000,
      factor: options.backoffCoefficient ?? 2,
      randomize: true,
      signal: options.signal,
      shouldRetry: ({ error }) => isRetryable(error),
      onFailedAttempt: ({ error, attemptNumber }) => {
        lastError = error;
        if (isRetryable(error)) options.onRetry?.(error, attemptNumber);
      },
    },
  );
}
