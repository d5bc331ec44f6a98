import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { Logger } from 'pino';

const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);
// Any constant works; it only has to be the same for every Drover server.
const MIGRATION_LOCK = 727_001;

/** The database holds a migration this build does not know: a newer Drover migrated it. */
export class NewerSchemaError extends Error {
  override name = 'NewerSchemaError';
}

/**
 * Applies forward-only migrations (`NNNN_name.sql`) in order, each in its own
 * transaction, under an advisory lock so servers starting together take turns.
 */
export async function migrate(pool: pg.Pool, log: Logger): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS drover_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM drover_migrations')).rows.map(
        (r) => r.name,
      ),
    );
    const unknown = [...done].filter((name) => !files.includes(name)).sort();
    if (unknown.length > 0) {
      throw new NewerSchemaError(
        `the database was migrated by a newer Drover: migration ${unknown.join(', ')} is unknown to this build ` +
          `(its last is ${files.at(-1)}); run that Drover version or newer, or use another database (data dir)`,
      );
    }
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO drover_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
      log.info({ migration: file }, 'applied migration');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
