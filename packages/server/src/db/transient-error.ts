import { HandlerError } from '@drover/protocol';

// Which database errors say "Postgres is away or busy, try again" rather than
// "this statement is wrong". Only these are worth retrying: a constraint or
// syntax error would fail the same way every time.

/** Socket-level errors: the connection to Postgres broke or could not be made. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs outside the classes below that a retry can get past. */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown: pg_terminate_backend, or a server shutting down
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: pg_cancel_backend
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

/** node-postgres raises these as plain Errors, without a code. */
const CLIENT_MESSAGES =
  /Connection terminated|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect|Query read timeout/i;

export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
    // Class 08: connection exception; class 53: insufficient resources (too many connections, out of memory, disk full).
    if (/^(08|53)[0-9A-Z]{3}$/.test(code)) return true;
  }
  return CLIENT_MESSAGES.test(err.message);
}

/** A NATS handler's answer when Postgres is away: retryable, so the sender tries again. */
export const DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE';

/** Turns a transient database error into a retryable handler error; anything else is rethrown as is. */
export function asHandlerError(err: unknown): unknown {
  if (!isTransientDbError(err)) return err;
  return new HandlerError(
    DATABASE_UNAVAILABLE,
    `database unavailable, try again: ${(err as Error).message}`,
    { retryable: true, cause: err },
  );
}
