import {
  DroverError,
  decode,
  type ErrorBody,
  ErrorCode,
  InvalidPayloadError,
  RemoteError,
  ReplyEnvelope,
  type ReplyOf,
  type Route,
} from '@drover/protocol';
import { zodIssues } from './issues.js';

const MAX_MESSAGE = 4096;

/** The error body a handler answers with, for any thrown value. */
export function errorBody(err: unknown): ErrorBody {
  if (err instanceof InvalidPayloadError) {
    return { code: err.code, message: err.message.slice(0, MAX_MESSAGE), issues: err.issues };
  }
  if (err instanceof DroverError) {
    return { code: err.code, message: err.message.slice(0, MAX_MESSAGE), retryable: err.retryable };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCode.INTERNAL, message: message.slice(0, MAX_MESSAGE) };
}

/** Decodes and validates a reply; throws the typed error it carries or its own. */
export function decodeReply<R extends Route>(route: R, bytes: Uint8Array): ReplyOf<R> {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (err) {
    throw new InvalidPayloadError('reply', [{ path: '', message: 'not valid msgpack' }], {
      cause: err,
    });
  }
  return parseReply(route, raw);
}

/** Validates a decoded reply envelope; throws the typed error it carries or its own. */
export function parseReply<R extends Route>(route: R, raw: unknown): ReplyOf<R> {
  const envelope = ReplyEnvelope.safeParse(raw);
  if (!envelope.success) throw new InvalidPayloadError('reply', zodIssues(envelope.error));
  if (!envelope.data.ok) {
    const { error } = envelope.data;
    if (error.code === ErrorCode.INVALID_PAYLOAD) {
      throw new InvalidPayloadError(
        'request',
        error.issues ?? [{ path: '', message: error.message }],
      );
    }
    throw new RemoteError(error.code, error.message, error.retryable ?? false);
  }
  const data = route.reply.safeParse(envelope.data.data);
  if (!data.success) throw new InvalidPayloadError('reply', zodIssues(data.error));
  return data.data as ReplyOf<R>;
}
