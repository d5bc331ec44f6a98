import type { z } from 'zod/v4';
import { type Actor, type AddressOf, serverSubject, workerSubject } from './subjects.js';

/** How a route is used: `ask` waits for a reply, `tell` does not. */
export type Pattern = 'ask' | 'tell';

export interface Route<
  A extends Actor = Actor,
  Req extends z.ZodType = z.ZodType,
  Rep extends z.ZodType = z.ZodType,
> {
  actor: A;
  /** snake_case handler token, the last subject token. */
  handler: string;
  pattern: Pattern;
  request: Req;
  reply: Rep;
  /** Default per-try timeout for `ask`. */
  timeoutMs: number;
  /**
   * Server routes only: every server receives the message (no queue group).
   * Otherwise one server of the queue group "server" does.
   */
  fanout?: boolean;
}

export type RequestOf<R extends Route> = z.input<R['request']>;
export type ParsedRequestOf<R extends Route> = z.output<R['request']>;
export type ReplyOf<R extends Route> = z.output<R['reply']>;
export type ReplyInputOf<R extends Route> = z.input<R['reply']>;

export const SERVER_QUEUE_GROUP = 'server';

export function defineRoute<A extends Actor, Req extends z.ZodType, Rep extends z.ZodType>(
  route: Route<A, Req, Rep>,
): Route<A, Req, Rep> {
  return Object.freeze(route);
}

export function routeSubject<A extends Actor>(route: Route<A>, address: AddressOf<A>): string {
  if (route.actor === 'server') return serverSubject(address.app, route.handler);
  const { workerId } = address as AddressOf<'tt'>;
  return workerSubject(address.app, workerId, route.actor as 'tt' | 'pt', route.handler);
}

/** The queue group a handler of this route subscribes with, if any. */
export function routeQueue(route: Route): string | undefined {
  return route.actor === 'server' && !route.fanout ? SERVER_QUEUE_GROUP : undefined;
}
