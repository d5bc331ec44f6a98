import {
  type AddressOf,
  decode,
  type ErrorBody,
  encode,
  InvalidPayloadError,
  type ParsedRequestOf,
  PayloadTooLargeError,
  type ReplyInputOf,
  type Route,
  routeQueue,
  routeSubject,
} from '@drover/protocol';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { fromHeaders, type MessageMeta } from './headers.js';
import { zodIssues } from './issues.js';
import { LogLimiter } from './log-limiter.js';
import { maxPayload } from './payload.js';
import { errorBody } from './reply-codec.js';

export interface HandlerContext {
  subject: string;
  meta: MessageMeta;
}

export type HandlerFn<R extends Route> = (
  request: ParsedRequestOf<R>,
  ctx: HandlerContext,
) => ReplyInputOf<R> | Promise<ReplyInputOf<R>>;

export interface HandleOptions {
  /** Messages handled at once; the subscription waits beyond it (bounded memory). */
  maxInFlight?: number;
  /** Minimum gap between two warnings about bad messages. */
  warnIntervalMs?: number;
}

export interface Handler {
  subject: string;
  /** Stops taking messages, lets in-flight ones finish. */
  stop(): Promise<void>;
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
  ctx: HandlerContext,
  warn: { badInput: LogLimiter; failures: LogLimiter },
): Promise<ReplyBody> {
  const parsed = route.request.safeParse(raw);
  if (!parsed.success) {
    const invalid = new InvalidPayloadError('request', zodIssues(parsed.error));
    warn.badInput.warn({ issues: invalid.issues }, 'invalid request');
    return { ok: false, error: errorBody(invalid) };
  }
  try {
    const data = await fn(parsed.data as ParsedRequestOf<R>, ctx);
    return { ok: true, data: route.pattern === 'tell' ? null : data };
  } catch (err) {
    warn.failures.warn({ err }, 'handler failed');
    return { ok: false, error: errorBody(err) };
  }
}

/**
 * Serves one route: decodes, validates with the route's schema, runs `fn`,
 * replies `{ok,data}` or a typed error. Never lets a bad message stop it.
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
  const maxInFlight = options.maxInFlight ?? 1024;
  const handlerLog = log.child({ handler: route.handler });
  const badInput = new LogLimiter(handlerLog, options.warnIntervalMs);
  const failures = new LogLimiter(handlerLog, options.warnIntervalMs);
  const sub = nc.subscribe(subject, { queue: routeQueue(route) });
  const inFlight = new Set<Promise<void>>();

  const respond = (msg: Msg, body: unknown): void => {
    if (!msg.reply) return;
    let bytes = encode(body);
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
      badInput.warn({ bytes: msg.data.byteLength, reason: (err as Error).message }, 'bad msgpack');
      const issues = [{ path: '', message: 'not valid msgpack' }];
      respond(msg, { ok: false, error: errorBody(new InvalidPayloadError('request', issues)) });
      return;
    }
    const ctx = { subject: msg.subject, meta: fromHeaders(msg.headers) };
    respond(msg, await answer(route, fn, raw, ctx, { badInput, failures }));
  };

  const loop = (async () => {
    for await (const msg of sub) {
      const task: Promise<void> = serve(msg).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
  })().catch((err: unknown) => handlerLog.error({ err }, 'subscription ended with an error'));

  return {
    subject,
    async stop() {
      if (!sub.isClosed()) await sub.drain();
      await loop;
      await Promise.allSettled(inFlight);
    },
  };
}
