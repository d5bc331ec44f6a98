// Typed errors: small Error subclasses with a stable `code`, so callers can
// branch on what happened without parsing messages.

export const ErrorCode = {
  TIMEOUT: 'TIMEOUT',
  NO_RESPONDERS: 'NO_RESPONDERS',
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  DISCONNECTED: 'DISCONNECTED',
  BUSY: 'BUSY',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `tasks.3.taskId`; empty for the whole message. */
  path: string;
  message: string;
}

export class DroverError extends Error {
  override name = 'DroverError';
  readonly code: string;
  /** Whether sending the same message again may succeed. */
  readonly retryable: boolean;
  constructor(code: string, message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super(message, options);
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

export class TimeoutError extends DroverError {
  override name = 'TimeoutError';
  constructor(subject: string, timeoutMs: number, options?: ErrorOptions) {
    super(ErrorCode.TIMEOUT, `no reply on ${subject} within ${timeoutMs} ms`, {
      ...options,
      retryable: true,
    });
  }
}

export class NoRespondersError extends DroverError {
  override name = 'NoRespondersError';
  constructor(subject: string, options?: ErrorOptions) {
    super(ErrorCode.NO_RESPONDERS, `no responders on ${subject}`, { ...options, retryable: true });
  }
}

export class DisconnectedError extends DroverError {
  override name = 'DisconnectedError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.DISCONNECTED, message, { ...options, retryable: true });
  }
}

/** A handler had all its slots and its queue full: sending again later may succeed. */
export class BusyError extends DroverError {
  override name = 'BusyError';
  constructor(subject: string, options?: ErrorOptions) {
    super(ErrorCode.BUSY, `${subject} is busy, try again later`, { ...options, retryable: true });
  }
}

/** A message failed its schema: `where` says whether ours or theirs. */
export class InvalidPayloadError extends DroverError {
  override name = 'InvalidPayloadError';
  readonly issues: FieldIssue[];
  readonly where: 'request' | 'reply';
  constructor(where: 'request' | 'reply', issues: FieldIssue[], options?: ErrorOptions) {
    super(ErrorCode.INVALID_PAYLOAD, `invalid ${where}: ${formatIssues(issues)}`, options);
    this.issues = issues;
    this.where = where;
  }
}

export class PayloadTooLargeError extends DroverError {
  override name = 'PayloadTooLargeError';
  readonly size: number;
  readonly maxPayload: number;
  constructor(subject: string, size: number, maxPayload: number) {
    super(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `payload for ${subject} is ${size} bytes, over the server's max_payload of ${maxPayload}`,
    );
    this.size = size;
    this.maxPayload = maxPayload;
  }
}

/** The handler on the other side failed; `code` is the one it chose. */
export class RemoteError extends DroverError {
  override name = 'RemoteError';
  constructor(code: string, message: string, retryable: boolean) {
    super(code, message, { retryable });
  }
}

/** Thrown by handlers to answer with a specific error code (e.g. STALE_EPOCH). */
export class HandlerError extends DroverError {
  override name = 'HandlerError';
}

export function formatIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

export function isRetryable(err: unknown): boolean {
  return err instanceof DroverError && err.retryable;
}
