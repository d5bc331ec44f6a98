import { pino } from 'pino';
import { expect, it } from 'vitest';
import { createPool, waitForDatabase } from '../src/db/pool.js';

// A file the database URL names (sslrootcert) that cannot be read is named in
// the log, not taken for a Postgres that is not up yet; the server still waits.

it('names an unreadable sslrootcert file while it waits for the database', async () => {
  let said = (_msg: string) => {};
  const firstWarning = new Promise<string>((resolve) => {
    said = resolve;
  });
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => said((JSON.parse(line) as { msg: string }).msg) },
  );
  const pool = createPool(
    'postgres://drover@127.0.0.1:1/drover?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
    1,
    log,
  );
  const stop = new AbortController();
  const waiting = waitForDatabase(pool, log, stop.signal);
  try {
    expect(await firstWarning).toMatch(
      /: cannot read \/nonexistent\/ca\.pem, a file the database URL names \(ENOENT\); retrying connect$/,
    );
  } finally {
    stop.abort();
    await waiting.catch(() => undefined);
    await pool.end();
  }
});
