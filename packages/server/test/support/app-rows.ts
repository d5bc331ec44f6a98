import type pg from 'pg';
import { uniqueName } from '../../../../test/harness/fixtures.js';

/** An app written straight to the database (no API, no secret to use): its name and id. */
export async function insertApp(db: pg.Pool): Promise<{ name: string; id: string }> {
  const name = uniqueName('app');
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO apps (name, secret_hash) VALUES ($1, 'x') RETURNING id`,
    [name],
  );
  return { name, id: rows[0]?.id as string };
}

/** An API job of the app written straight to the database, with this spec: its id. */
export async function insertJob(db: pg.Pool, appId: string, spec: object = {}): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type) VALUES ($1, $2, $3, 'API') RETURNING id`,
    [appId, uniqueName('j'), spec],
  );
  return rows[0]?.id as string;
}
