import { type AddressOf, type RequestOf, type Route, routeSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { type MessageMeta, toHeaders } from './headers.js';
import { encodeChecked } from './payload.js';

/** Fire-and-forget publish, for what the next beat repeats anyway. */
export function tell<R extends Route>(
  nc: NatsConnection,
  route: R,
  address: AddressOf<R['actor']>,
  message: RequestOf<R>,
  meta: MessageMeta = {},
): void {
  const subject = routeSubject(route, address);
  nc.publish(subject, encodeChecked(nc, subject, message), { headers: toHeaders(meta) });
}
