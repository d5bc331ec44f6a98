import { encode, PayloadTooLargeError } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';

// NATS's default max_payload, used until the server's INFO has arrived.
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
// Room for the protocol line and headers, which count against max_payload too.
const HEADER_ALLOWANCE = 1024;

export function maxPayload(nc: NatsConnection): number {
  return nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
}

/** Encodes a message and refuses it before publishing if the server would. */
export function encodeChecked(nc: NatsConnection, subject: string, value: unknown): Uint8Array {
  const bytes = encode(value);
  const limit = maxPayload(nc) - HEADER_ALLOWANCE;
  if (bytes.byteLength > limit) throw new PayloadTooLargeError(subject, bytes.byteLength, limit);
  return bytes;
}
