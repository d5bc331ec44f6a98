import {
  type AddressOf,
  NoRespondersError,
  type ReplyOf,
  type RequestOf,
  type Route,
  routeSubject,
} from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { fromNatsError } from './nats-errors.js';
import { encodeChecked } from './payload.js';
import { decodeReply } from './reply-codec.js';

/**
 * Request/reply to every server of a fan-out route: the replies (or the typed
 * errors they carried) of all that answer within the route's timeout, ending
 * early at the first reply that is `enough`. Rejects with NoRespondersError
 * when none answers.
 */
export async function askAll<R extends Route>(
  nc: NatsConnection,
  route: R,
  address: AddressOf<R['actor']>,
  request: RequestOf<R>,
  enough: (reply: ReplyOf<R>) => boolean = () => false,
): Promise<({ reply: ReplyOf<R> } | { error: unknown })[]> {
  const subject = routeSubject(route, address);
  const payload = encodeChecked(nc, subject, request);
  const answers: ({ reply: ReplyOf<R> } | { error: unknown })[] = [];
  try {
    const replies = await nc.requestMany(subject, payload, {
      // The whole timeout: a slow server's answer may be the one that counts.
      strategy: 'timer',
      maxWait: route.timeoutMs,
    });
    for await (const msg of replies) {
      let reply: ReplyOf<R>;
      try {
        reply = decodeReply(route, msg.data);
      } catch (error) {
        answers.push({ error });
        continue;
      }
      answers.push({ reply });
      if (enough(reply)) break;
    }
  } catch (err) {
    throw fromNatsError(err, subject, route.timeoutMs);
  }
  if (answers.length === 0) throw new NoRespondersError(subject);
  return answers;
}
