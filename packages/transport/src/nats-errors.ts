import {
  DisconnectedError,
  type DroverError,
  NoRespondersError,
  TimeoutError,
} from '@drover/protocol';
import { errors } from '@nats-io/nats-core';

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/**
 * Maps what the NATS client throws on a request to Drover's typed errors.
 * No-responders arrives wrapped in a RequestError, so the cause chain is walked.
 */
export function fromNatsError(
  err: unknown,
  subject: string,
  timeoutMs: number,
): DroverError | unknown {
  const chain = causes(err);
  if (chain.some((e) => e instanceof errors.NoRespondersError)) {
    return new NoRespondersError(subject, { cause: err });
  }
  if (chain.some((e) => e instanceof errors.TimeoutError)) {
    return new TimeoutError(subject, timeoutMs, { cause: err });
  }
  if (
    chain.some(
      (e) =>
        e instanceof errors.ClosedConnectionError ||
        e instanceof errors.DrainingConnectionError ||
        e instanceof errors.ConnectionError ||
        (e instanceof errors.RequestError && /disconnect/i.test(e.message)),
    )
  ) {
    return new DisconnectedError(`connection unavailable for ${subject}`, { cause: err });
  }
  return err;
}
