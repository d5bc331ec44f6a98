import type pg from 'pg';

// Postgres-side fault helpers, run from a test's own direct connection (not
// through the proxy the server uses), so the test can act while the server
// cannot.

/**
 * Postgres notices a dropped client only when it next talks to it; with this
 * set, a statement whose connection was cut is aborted (rolled back) within
 * 100 ms, as the real server would once its socket errors. Sessions opened
 * after this call get it: call it before starting the server.
 */
export async function abortStatementsOfLostClients(sql: pg.Client, database: string) {
  await sql.query(`ALTER DATABASE ${database} SET client_connection_check_interval = 100`);
}

/**
 * From now until `release`, every change of an instance's status that records
 * progress (accept, final report, hand-back, a queued run's requeue, inside
 * its dispatch transaction) waits inside Postgres; claims to a worker go
 * through, so runs still reach workers. A fault then
 * lands while those writes are in flight, which is when losing one costs most.
 * Released writes go on as if nothing happened.
 */
export async function holdStatusChanges(sql: pg.Client): Promise<{ release(): Promise<void> }> {
  await sql.query(`
    CREATE TABLE IF NOT EXISTS drover_test_hold (on_hold boolean PRIMARY KEY);
    INSERT INTO drover_test_hold VALUES (true) ON CONFLICT DO NOTHING;
    CREATE OR REPLACE FUNCTION drover_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      WHILE EXISTS (SELECT 1 FROM drover_test_hold) LOOP PERFORM pg_sleep(0.05); END LOOP;
      RETURN NEW;
    END $$;
    CREATE OR REPLACE TRIGGER drover_test_hold BEFORE UPDATE ON instances FOR EACH ROW
      WHEN (NEW.status NOT IN ('WAITING_WORKER_RECEIVE', 'WAITING_WORKER')
            AND (OLD.status IS DISTINCT FROM NEW.status OR NEW.status = 'WAITING_DISPATCH'))
      EXECUTE FUNCTION drover_test_hold();`);
  return {
    release: async () => {
      await sql.query('DELETE FROM drover_test_hold');
    },
  };
}

/** Sessions of this database, other than `sql`'s own, waiting in the hold. */
export async function heldSessions(sql: pg.Client): Promise<number[]> {
  const { rows } = await sql.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
     AND pid <> pg_backend_pid() AND wait_event = 'PgSleep'`,
  );
  return rows.map((r) => r.pid);
}

/** Resolves once at least `count` writes wait in the hold. */
export async function untilHeld(sql: pg.Client, count: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const held = await heldSessions(sql);
    if (held.length >= count) return;
    if (Date.now() > until) throw new Error(`${held.length} of ${count} writes held`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `pg_terminate_backend` of every other session of this database (a held write is mid-transaction); how many. */
export async function terminateOtherSessions(sql: pg.Client): Promise<number> {
  // Listed first, terminated after: in one WHERE, Postgres may call pg_terminate_backend before excluding its own pid.
  const { rows } = await sql.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
  const pids = rows.map((r) => r.pid);
  await sql.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  return pids.length;
}

/** Until the returned stop is called: `terminateOtherSessions` every `periodMs`. */
export function terminateEvery(sql: pg.Client, periodMs: number): () => Promise<void> {
  let round: Promise<unknown> = terminateOtherSessions(sql);
  const timer = setInterval(() => {
    round = round.then(() => terminateOtherSessions(sql));
  }, periodMs);
  return async () => {
    clearInterval(timer);
    await round;
  };
}
