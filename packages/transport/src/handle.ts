import {
  type AddressOf,
  BusyError,
  decode,
  type ErrorBody,
  encode,
  HandlerError,
  InvalidPayloadError,
  monotonicMs,
  type ParsedRequestOf,
  PayloadTooLargeError,
  type ReplyInputOf,
  type Route,
  routeQueue,
  routeSubject,
} from '@drover/protocol';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { AfterReply } from './after-reply.js';
import { fromHeaders, type MessageMeta } from './headers.js';
import { zodIssues } from './issues.js';
import { LogLimiter } from './log-limiter.js';
import type { DroverLogger as Logger } from './logger.js';
import { maxPayload } from './payload.js';
import { errorBody } from './reply-codec.js';
import { countRejection, newCounters, type RouteCounters } from './route-stats.js';

export interface HandlerContext {
  subject: string;
  meta: MessageMeta;
  /** When the message arrived (monotonic ms), before it waited for a slot and was decoded. */
  receivedAt: number;
  /** Counts a message the handler refuses with a normal reply (e.g. `accepted: false`) as an error in `$SRV.STATS`. */
  refused(reason: string): void;
  /**
   * Runs `fn` once this message's reply is handed to the connection's socket
   * (or, in process, returned), whatever the reply: what the handler starts
   * there cannot end this process before the reply is on its way.
   */
  afterReply(fn: () => void): void;
}

export type HandlerFn<R extends Route> = (
  request: ParsedRequestOf<R>,
  ctx: HandlerContext,
) => ReplyInputOf<R> | Promise<ReplyInputOf<R>>;

/** Delivers a subject's messages, one call each, without buffering them (the handler bounds its own queue). */
export type Subscribe = (
  name: string,
  subject: string,
  queue: string | undefined,
  onMessage: (msg: Msg) => void,
) => { stop(): Promise<void> };

export interface HandleOptions {
  /** Messages handled at once. */
  maxInFlight?: number;
  /** Messages waiting for a slot; beyond it (or `maxQueuedBytes`) a message is answered BUSY at once. */
  maxQueued?: number;
  maxQueuedBytes?: number;
  /** Minimum gap between two warnings about bad messages. */
  warnIntervalMs?: number;
  /** Where this handler's counters go (a Bus keeps one per subject for `$SRV.STATS`). */
  counters?: RouteCounters;
  /** Where messages come from; a plain NATS subscription when omitted. */
  subscribe?: Subscribe;
}

/** Defaults that bound a handler's memory: at most 64 running and 1,024 (and 16 MiB) waiting. */
export const HANDLER_LIMITS = {
  maxInFlight: 64,
  maxQueued: 1_024,
  maxQueuedBytes: 16 * 2 ** 20,
} as const;

export interface Handler {
  subject: string;
  /** Stops taking messages, lets in-flight and queued ones finish. */
  stop(): Promise<void>;
}

/**
 * A handler's rate-limited warnings, one limiter each: a burst of refusals
 * (unknown workers after a restart) must not hide a failure's stack.
 */
export interface HandlerWarnings {
  badInput: LogLimiter;
  failures: LogLimiter;
  refusals: LogLimiter;
}

/** A reply envelope, before encoding. */
export type ReplyBody = { ok: true; data: unknown } | { ok: false; error: ErrorBody };

/**
 * Validates a decoded request with the route's schema and runs the handler:
 * the reply it gives, or the typed error. Shared by NATS and in-process calls.
 */
export async function answer<R extends Route>(
  route: R,
  fn: HandlerFn<R>,
  raw: unknown,
  ctx: Omit<HandlerContext, 'refused'>,
  warn: HandlerWarnings,
  counters: RouteCounters = newCounters(),
): Promise<ReplyBody> {
  counters.requests++;
  const started = performance.now();
  try {
    return await validateAndRun(route, fn, raw, ctx, warn, counters);
  } finally {
    counters.processingNs += Math.round((performance.now() - started) * 1e6);
  }
}

async function validateAndRun<R extends Route>(
  route: R,
  fn: HandlerFn<R>,
  raw: unknown,
  ctx: Omit<HandlerContext, 'refused'>,
  warn: HandlerWarnings,
  counters: RouteCounters,
): Promise<ReplyBody> {
  const parsed = route.request.safeParse(raw);
  if (!parsed.success) {
    const invalid = new InvalidPayloadError('request', zodIssues(parsed.error));
    countRejection(counters, 'invalid', invalid.message.slice(0, 200));
    warn.badInput.warn({ issues: invalid.issues }, 'invalid request');
    return { ok: false, error: errorBody(invalid) };
  }
  const refused = (reason: string) => countRejection(counters, 'refused', reason);
  try {
    const data = await fn(parsed.data as ParsedRequestOf<R>, { ...ctx, refused });
    return { ok: true, data: route.pattern === 'tell' ? null : data };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A HandlerError is an answer the handler chose (unknown worker, stale epoch):
    // a refusal, not a bug, logged as one line with no stack.
    if (err instanceof HandlerError) {
      countRejection(counters, 'refused', message);
      warn.refusals.warn({ code: err.code, reason: message }, 'request refused');
    } else {
      countRejection(counters, 'failed', message);
      warn.failures.warn({ err }, 'handler failed');
    }
    return { ok: false, error: errorBody(err) };
  }
}

const natsSubscribe =
  (nc: NatsConnection, log: Logger): Subscribe =>
  (_name, subject, queue, onMessage) => {
    // A callback subscription: nats.js hands each message over as it is read, keeping no queue of its own.
    const sub = nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) log.error({ err }, 'subscription error');
        else onMessage(msg);
      },
    });
    return {
      async stop() {
        if (!sub.isClosed()) await sub.drain();
      },
    };
  };

/**
 * Serves one route: decodes, validates with the route's schema, runs `fn`,
 * replies `{ok,data}` or a typed error. Never lets a bad message stop it.
 * At most `maxInFlight` run at once and `maxQueued` wait; beyond that a
 * message is answered BUSY (retryable) at once, or dropped if it is a tell.
 */
export function handle<R extends Route>(
  nc: NatsConnection,
  log: Logger,
  route: R,
  address: AddressOf<R['actor']>,
  fn: HandlerFn<R>,
  options: HandleOptions = {},
): Handler {
  const subject = routeSubject(route, address);
  const maxInFlight = options.maxInFlight ?? HANDLER_LIMITS.maxInFlight;
  const maxQueued = options.maxQueued ?? HANDLER_LIMITS.maxQueued;
  const maxQueuedBytes = options.maxQueuedBytes ?? HANDLER_LIMITS.maxQueuedBytes;
  const counters = options.counters ?? newCounters();
  const handlerLog = log.child({ handler: route.handler });
  const badInput = new LogLimiter(handlerLog, options.warnIntervalMs);
  const failures = new LogLimiter(handlerLog, options.warnIntervalMs);
  const refusals = new LogLimiter(handlerLog, options.warnIntervalMs);
  const shedding = new LogLimiter(handlerLog, options.warnIntervalMs);
  const queue: Msg[] = [];
  let queuedBytes = 0;
  let running = 0;
  let stopped = false;
  let idle: (() => void) | undefined;
  // Arrival times of the messages taken (a WeakMap: nothing to clean up).
  const arrivals = new WeakMap<Msg, number>();

  const respond = (msg: Msg, body: unknown): void => {
    if (!msg.reply) return;
    let bytes: Uint8Array;
    try {
      bytes = encode(body);
    } catch (err) {
      // A handler's answer msgpack cannot carry: the asker hears why, not a timeout.
      failures.warn({ err }, 'reply not encodable');
      bytes = encode({
        ok: false,
        error: errorBody(new Error(`reply not encodable: ${(err as Error).message}`)),
      });
    }
    if (bytes.byteLength > maxPayload(nc)) {
      const tooLarge = new PayloadTooLargeError(msg.reply, bytes.byteLength, maxPayload(nc));
      bytes = encode({ ok: false, error: errorBody(tooLarge) });
    }
    try {
      msg.respond(bytes);
    } catch (err) {
      failures.warn({ err }, 'could not send reply');
    }
  };

  const serve = async (msg: Msg): Promise<void> => {
    let raw: unknown;
    try {
      raw = decode(msg.data);
    } catch (err) {
      counters.requests++;
      countRejection(counters, 'badMsgpack', 'not valid msgpack');
      badInput.warn({ bytes: msg.data.byteLength, reason: (err as Error).message }, 'bad msgpack');
      const issues = [{ path: '', message: 'not valid msgpack' }];
      respond(msg, { ok: false, error: errorBody(new InvalidPayloadError('request', issues)) });
      return;
    }
    const receivedAt = arrivals.get(msg) ?? monotonicMs();
    const after = new AfterReply();
    const ctx = {
      subject: msg.subject,
      meta: fromHeaders(msg.headers),
      receivedAt,
      afterReply: after.add,
    };
    // Whatever happens to the reply: a run accepted waits for these to start.
    try {
      respond(msg, await answer(route, fn, raw, ctx, { badInput, failures, refusals }, counters));
    } finally {
      after.run(failures);
    }
  };

  const start = (msg: Msg): void => {
    running++;
    void serve(msg)
      .catch((err: unknown) => failures.warn({ err }, 'handler failed'))
      .finally(() => {
        running--;
        const next = queue.shift();
        if (next) {
          queuedBytes -= next.data.byteLength;
          start(next);
        } else if (running === 0) idle?.();
      });
  };

  const admit = (msg: Msg): void => {
    if (stopped) return; // draining: the sender's timeout and retry find another handler
    arrivals.set(msg, monotonicMs());
    if (running < maxInFlight) {
      start(msg);
      return;
    }
    const bytes = msg.data.byteLength;
    if (queue.length < maxQueued && queuedBytes + bytes <= maxQueuedBytes) {
      queue.push(msg);
      queuedBytes += bytes;
      return;
    }
    counters.requests++;
    countRejection(counters, 'shed', 'busy: all slots and the queue are full');
    shedding.warn({ running, queued: queue.length, queuedBytes }, 'busy, shedding load');
    respond(msg, { ok: false, error: errorBody(new BusyError(subject)) });
  };

  const source = (options.subscribe ?? natsSubscribe(nc, handlerLog))(
    route.handler,
    subject,
    routeQueue(route),
    admit,
  );

  return {
    subject,
    async stop() {
      await source.stop();
      stopped = true;
      if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
  };
}
