import { apiViews } from '@drover/protocol';
import type { z } from 'zod/v4';
import { DroverApiError, DroverUnavailableError } from './errors.js';

/** The fetch a client calls: the global one unless the caller gives another. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpSettings {
  /** The server's base URL, without `/api/v1`. */
  url: string;
  /** Sent as `Authorization: Bearer <secret>`. */
  secret?: string;
  fetch: FetchLike;
  requestTimeoutMs: number;
}

export interface RequestOptions {
  /** Aborts the request; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * One call of the API under `/api/v1`: its answer validated with `schema`, a
 * failure turned into a typed error.
 */
export async function sendRequest<S extends z.ZodType>(
  settings: HttpSettings,
  schema: S,
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<z.output<S>> {
  const timeout = AbortSignal.timeout(settings.requestTimeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await settings.fetch(`${settings.url}/api/v1${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(settings.secret ? { authorization: `Bearer ${settings.secret}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    text = await res.text();
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    const reason = timeout.aborted
      ? `no answer within ${settings.requestTimeoutMs} ms`
      : describeFailure(err);
    throw new DroverUnavailableError(settings.url, reason, { cause: err });
  }
  const json: unknown = text ? parseJson(text) : null;
  if (!res.ok) throw failure(res.status, json, method, path);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.map(String).join('.'),
      message: i.message,
    }));
    throw new DroverApiError({
      code: 'UNEXPECTED_ANSWER',
      status: res.status,
      message: `unexpected answer from ${method} ${path}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
      method,
      path,
    });
  }
  return parsed.data;
}

/** A failed answer as a typed error (the API's error envelope when it has one). */
export function failure(
  status: number,
  json: unknown,
  method: string,
  path: string,
): DroverApiError {
  const envelope = apiViews.ErrorView.safeParse(json);
  if (!envelope.success)
    return new DroverApiError({
      code: 'HTTP_ERROR',
      status,
      message: `HTTP ${status}`,
      method,
      path,
    });
  const { code, message, issues } = envelope.data.error;
  return new DroverApiError({ code, status, message, issues, method, path });
}

/** fetch's own error says only "fetch failed"; its cause says why (refused, reset, DNS). */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return cause.message || (typeof code === 'string' ? code : err.message);
  }
  return err.message;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
