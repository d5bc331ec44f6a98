import { type TlsAdvice, tlsCertificateProblem, withoutCredentials } from '@drover/transport';
import pRetry from 'p-retry';
import pg from 'pg';
import type { Logger } from 'pino';
import { parseTimestamptz, TIMESTAMPTZ_OID } from './timestamptz-parser.js';
import { isTransientDbError } from './transient-error.js';

/** pg's type parsers, but timestamptz read by the server's own (faster) one. */
export const POOL_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ_OID && format !== 'binary'
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

// bigint (int8) columns come back as decimal strings: ids stay exact.
export function createPool(connectionString: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5_000,
    types: POOL_TYPES,
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle database connection failed'));
  // Nor may a checked-out one (a transaction, the scheduler's claim): node-postgres
  // emits 'error' on the client when its connection ends unexpectedly, and the
  // pool listens only while the client is idle. The query under way fails on
  // its own (its caller logs it); this listener only keeps the event from being unhandled.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug({ err: err.message }, 'database connection failed'));
  });
  return pool;
}

/** The pool's database URL without user and password, for logs. */
export function postgresForLog(pool: pg.Pool): string {
  return withoutCredentials(pool.options.connectionString ?? '(PG* environment)');
}

/** How node-postgres is told to trust a CA and check the host (`sslmode=verify-full`). */
const POSTGRES_TLS_ADVICE: TlsAdvice = {
  untrusted: 'give the CA with sslrootcert=<PEM file> in the database URL',
  wrongHost: 'use a host name or address the certificate lists',
};

/** A file the database URL names (`sslrootcert`, `sslcert`, `sslkey`) that pg could not read. */
function unreadableFile(err: unknown): string | undefined {
  const { code, path } = err as { code?: unknown; path?: unknown };
  if (typeof path !== 'string' || !['ENOENT', 'EACCES', 'EISDIR'].includes(String(code)))
    return undefined;
  return `cannot read ${path}, a file the database URL names (${String(code)})`;
}

/** Waits until the database answers, retrying with exponential backoff and jitter. */
export function waitForDatabase(pool: pg.Pool, log: Logger, signal?: AbortSignal): Promise<void> {
  const url = postgresForLog(pool);
  return pRetry(
    async () => {
      await pool.query('SELECT 1');
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: 5_000,
      factor: 2,
      randomize: true,
      signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        const file = unreadableFile(error);
        const tls = tlsCertificateProblem(error, POSTGRES_TLS_ADVICE);
        log.warn(
          { attempt: attemptNumber, postgres: url, reason: error.message },
          file
            ? `Postgres at ${url}: ${file}; retrying connect`
            : tls
              ? `Postgres at ${url} refused: ${tls}; retrying connect`
              : `Postgres at ${url} not reachable yet, retrying connect`,
        );
      },
    },
  );
}

/**
 * Runs `fn` again while it fails because Postgres is away or reset (backoff
 * with jitter, 100 ms growing to 2 s), for a write that must not be lost, e.g.
 * a worker's accept. Other errors, and `signal` aborting (the server stops),
 * end it.
 */
export function retryWhileUnavailable<T>(
  pool: pg.Pool,
  fn: () => Promise<T>,
  log: Logger,
  what: string,
  signal?: AbortSignal,
): Promise<T> {
  const url = postgresForLog(pool);
  return pRetry(fn, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 100,
    maxTimeout: 2_000,
    factor: 2,
    randomize: true,
    signal,
    shouldRetry: ({ error }) => isTransientDbError(error),
    onFailedAttempt: ({ error, attemptNumber }) => {
      // The first failure, then every tenth: a long outage is not a flood of lines.
      if (isTransientDbError(error) && (attemptNumber === 1 || attemptNumber % 10 === 0))
        log.warn(
          { attempt: attemptNumber, postgres: url, reason: error.message },
          `${what}: Postgres at ${url} unavailable, retrying`,
        );
    },
  });
}

/** Runs `fn` in a transaction, rolling back on any error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
      broken = rollbackFailed;
    });
    throw err;
  } finally {
    // A client that could not even roll back is closed, not handed to the next caller.
    client.release(broken);
  }
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;
