import {
  type AddressOf,
  type ReplyOf,
  type RequestOf,
  type Route,
  routeSubject,
} from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { type MessageMeta, toHeaders } from './headers.js';
import { fromNatsError } from './nats-errors.js';
import { encodeChecked } from './payload.js';
import { decodeReply } from './reply-codec.js';

export interface AskOptions extends MessageMeta {
  /** Per-try timeout; the route's default when omitted. */
  timeoutMs?: number;
  /** Stamps the message with this clock's reading once encoded (`Drover-Sent-At`). */
  stampSentAt?: () => number;
}

/**
 * Request/reply: resolves with the validated reply, or rejects with a typed
 * error (TimeoutError, NoRespondersError at once, InvalidPayloadError,
 * PayloadTooLargeError before sending, RemoteError, DisconnectedError).
 */
export async function ask<R extends Route>(
  nc: NatsConnection,
  route: R,
  address: AddressOf<R['actor']>,
  request: RequestOf<R>,
  options: AskOptions = {},
): Promise<ReplyOf<R>> {
  const subject = routeSubject(route, address);
  const timeoutMs = options.timeoutMs ?? route.timeoutMs;
  const payload = encodeChecked(nc, subject, request);
  let reply: Uint8Array;
  try {
    const msg = await nc.request(subject, payload, {
      timeout: timeoutMs,
      headers: toHeaders(
        options.stampSentAt ? { ...options, sentAt: options.stampSentAt() } : options,
      ),
    });
    reply = msg.data;
  } catch (err) {
    throw fromNatsError(err, subject, timeoutMs);
  }
  return decodeReply(route, reply);
}
