import { Header } from '@drover/protocol';
import { headers, type MsgHdrs } from '@nats-io/nats-core';

export interface MessageMeta {
  idempotencyKey?: string;
  attempt?: number;
  traceId?: string;
  /** The sender's clock when the message was published (see Header.SENT_AT). */
  sentAt?: number;
}

export function toHeaders(meta: MessageMeta): MsgHdrs | undefined {
  if (meta.idempotencyKey === undefined && meta.traceId === undefined && meta.sentAt === undefined)
    return undefined;
  const h = headers();
  if (meta.idempotencyKey !== undefined) h.set(Header.IDEMPOTENCY_KEY, meta.idempotencyKey);
  if (meta.attempt !== undefined) h.set(Header.ATTEMPT, String(meta.attempt));
  if (meta.traceId !== undefined) h.set(Header.TRACE_ID, meta.traceId);
  if (meta.sentAt !== undefined) h.set(Header.SENT_AT, String(meta.sentAt));
  return h;
}

// Header values are strings chosen by the sender; bound them before use.
function bounded(value: string | undefined): string | undefined {
  return value && value.length <= 128 ? value : undefined;
}

export function fromHeaders(h: MsgHdrs | undefined): MessageMeta {
  if (!h) return {};
  const attempt = Number.parseInt(h.get(Header.ATTEMPT), 10);
  const sentAt = h.has(Header.SENT_AT) ? Number(bounded(h.get(Header.SENT_AT))) : Number.NaN;
  return {
    idempotencyKey: bounded(h.get(Header.IDEMPOTENCY_KEY)),
    attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : undefined,
    traceId: bounded(h.get(Header.TRACE_ID)),
    sentAt: Number.isFinite(sentAt) && sentAt >= 0 ? sentAt : undefined,
  };
}
