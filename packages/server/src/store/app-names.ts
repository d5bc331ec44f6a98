import type pg from 'pg';

/** Whether an app of this name exists (a starting worker's check; no secret involved). */
export async function appExists(db: pg.Pool, name: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM apps WHERE name = $1', [name]);
  return (rowCount ?? 0) > 0;
}
