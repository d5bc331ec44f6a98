import {
  type AddressOf,
  monotonicMs,
  type ReplyOf,
  type RequestOf,
  type Route,
  routeSubject,
} from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { AfterReply } from './after-reply.js';
import { type AskOptions, ask } from './ask.js';
import {
  answer,
  type HandleOptions,
  type Handler,
  type HandlerFn,
  handle,
  type ReplyBody,
} from './handle.js';
import type { MessageMeta } from './headers.js';
import { LogLimiter } from './log-limiter.js';
import type { DroverLogger as Logger } from './logger.js';
import { type Monitoring, type ServiceIdentity, startMonitoring } from './monitoring.js';
import { maxPayload } from './payload.js';
import { type ReliableAskOptions, reliableAsk, retrying } from './reliable-ask.js';
import { parseReply } from './reply-codec.js';
import { RouteStats } from './route-stats.js';
import { tell } from './tell.js';

type LocalServe = (request: unknown, meta: MessageMeta) => Promise<ReplyBody>;

/**
 * One process's view of the message bus: a NATS connection plus its logger.
 * A message for a handler in this same process (a TaskTracker and the
 * ProcessorTracker on its own worker) skips NATS and msgpack: it is validated
 * and answered in process, with the same replies and errors.
 */
export class Bus {
  private readonly local = new Map<string, LocalServe>();
  /** Every handler's counters, by subject: what `$SRV.STATS` shows per endpoint. */
  readonly routeStats = new RouteStats();
  private monitoring?: Monitoring;

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
    const local = this.localFor(route, address);
    if (local) return this.askLocal(route, local, request, options ?? {});
    return ask(this.nc, route, address, request, options);
  }

  reliableAsk<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    request: RequestOf<R>,
    options: ReliableAskOptions,
  ): Promise<ReplyOf<R>> {
    const local = this.localFor(route, address);
    if (!local) return reliableAsk(this.nc, route, address, request, options);
    return retrying(route, options, (meta) => this.askLocal(route, local, request, meta));
  }

  tell<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    message: RequestOf<R>,
    meta?: MessageMeta,
  ): void {
    const local = this.localFor(route, address);
    if (local) void this.askLocal(route, local, message, meta ?? {}).catch(() => undefined);
    else tell(this.nc, route, address, message, meta);
  }

  /**
   * Starts this process's NATS service (`$SRV.*`); handlers registered after it
   * are its endpoints, so `nats micro stats` shows their requests and errors.
   */
  async startMonitoring(identity: ServiceIdentity): Promise<Monitoring> {
    this.monitoring = await startMonitoring(this.nc, identity, this.routeStats);
    return this.monitoring;
  }

  handle<R extends Route>(
    route: R,
    address: AddressOf<R['actor']>,
    fn: HandlerFn<R>,
    options?: HandleOptions,
  ): Handler {
    const counters = this.routeStats.for(routeSubject(route, address), route.handler);
    const handler = handle(this.nc, this.log, route, address, fn, {
      subscribe: this.monitoring?.subscribe,
      ...options,
      counters,
    });
    const { subject } = handler;
    if (subject.includes('*') || subject.includes('>')) return handler; // shared by many addresses
    const handlerLog = this.log.child({ handler: route.handler, local: true });
    const warn = {
      badInput: new LogLimiter(handlerLog, options?.warnIntervalMs),
      failures: new LogLimiter(handlerLog, options?.warnIntervalMs),
      refusals: new LogLimiter(handlerLog, options?.warnIntervalMs),
    };
    const serve: LocalServe = async (request, meta) => {
      const after = new AfterReply();
      const ctx = { subject, meta, receivedAt: monotonicMs(), afterReply: after.add };
      try {
        return await answer(route, fn, request, ctx, warn, counters);
      } finally {
        after.run(warn.failures);
      }
    };
    this.local.set(subject, serve);
    return {
      subject,
      stop: async () => {
        if (this.local.get(subject) === serve) this.local.delete(subject);
        await handler.stop();
      },
    };
  }

  /** The largest message the connected server accepts. */
  get maxPayload(): number {
    return maxPayload(this.nc);
  }

  private localFor<R extends Route>(route: R, address: AddressOf<R['actor']>) {
    return this.local.size ? this.local.get(routeSubject(route, address)) : undefined;
  }

  private async askLocal<R extends Route>(
    route: R,
    serve: LocalServe,
    request: RequestOf<R>,
    meta: MessageMeta,
  ): Promise<ReplyOf<R>> {
    // Like a message, the handler runs in a later turn of the event loop: a
    // chain of in-process asks must not starve timers and NATS I/O.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const { idempotencyKey, attempt, traceId } = meta;
    return parseReply(route, await serve(request, { idempotencyKey, attempt, traceId }));
  }
}
