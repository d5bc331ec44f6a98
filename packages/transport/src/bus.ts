import type { AddressOf, ReplyOf, RequestOf, Route } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { type AskOptions, ask } from './ask.js';
import { type HandleOptions, type Handler, type HandlerFn, handle } from './handle.js';
import type { MessageMeta } from './headers.js';
import { maxPayload } from './payload.js';
import { type ReliableAskOptions, reliableAsk } from './reliable-ask.js';
import { tell } from './tell.js';

/** One process's view of the message bus: a NATS connection plus its logger. */
export class Bus {
  constructor(
    readonly nc: NatsConnection,
    readonly log: Logger,
  ) {}

  ask<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    request: RequestOf<R>,
    options?: AskOptions,
  ): Promise<ReplyOf<R>> {
    return ask(this.nc, route, address, request, options);
  }

  reliableAsk<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    request: RequestOf<R>,
    options: ReliableAskOptions,
  ): Promise<ReplyOf<R>> {
    return reliableAsk(this.nc, route, address, request, options);
  }

  tell<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    message: RequestOf<R>,
    meta?: MessageMeta,
  ): void {
    tell(this.nc, route, address, message, meta);
  }

  handle<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    fn: HandlerFn<R>,
    options?: HandleOptions,
  ): Handler {
    return handle(this.nc, this.log, route, address, fn, options);
  }

  /** The largest message the connected server accepts. */
  get maxPayload(): number {
    return maxPayload(this.nc);
  }
}
