import pRetry from 'p-retry';
import pg from 'pg';
import type { Logger } from 'pino';

// bigint (int8) columns come back as decimal strings: ids stay exact.
export function createPool(connectionString: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle database connection failed'));
  return pool;
}

/** Waits until the database answers, retrying with exponential backoff and jitter. */
export function waitForDatabase(pool: pg.Pool, log: Logger, signal?: AbortSignal): Promise<void> {
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
      onFailedAttempt: ({ error, attemptNumber }) =>
        log.warn(
          { attempt: attemptNumber, reason: error.message },
          'Postgres not reachable yet, retrying',
        ),
    },
  );
}

/** Runs `fn` in a transaction, rolling back on any error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;
