import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { migrate } from '../src/db/migrate.js';

// Migration 0007 turns instances.result from text into jsonb: a result stored
// before becomes that JSON string (text that looks like JSON stays a string,
// as it was answered), and no result stays NULL.

const db = useDatabase();
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // The clone is migrated: put it back as 0006 left it, text results and all.
  await pool.query(`DELETE FROM drover_migrations WHERE name = '0007_result_json.sql'`);
  await pool.query(`ALTER TABLE instances ALTER COLUMN result TYPE text USING result #>> '{}'`);
  const app = await pool.query<{ id: string }>(
    `INSERT INTO apps (name, secret_hash) VALUES ('old', 'x') RETURNING id`,
  );
  const job = await pool.query<{ id: string }>(
    `INSERT INTO jobs (app_id, name, spec, time_expression_type) VALUES ($1, 'old', '{}', 'API') RETURNING id`,
    [app.rows[0]?.id],
  );
  for (const [i, result] of ['hello', '{"looks":"like json"}', '42', '', null].entries()) {
    await pool.query(
      `INSERT INTO instances (id, app_id, job_id, status, trigger_type, result)
       VALUES ($1, $2, $3, 'SUCCEEDED', 'API', $4)`,
      [1_000 + i, app.rows[0]?.id, job.rows[0]?.id, result],
    );
  }
});
afterAll(() => pool.end());

describe('migration 0007_result_json', () => {
  it('makes every old text result a JSON string and keeps no result NULL', async () => {
    expect(await migrate(pool, testLogger('migrate'))).toEqual(['0007_result_json.sql']);
    const { rows } = await pool.query<{ id: string; result: unknown; type: string | null }>(
      'SELECT id, result, jsonb_typeof(result) AS type FROM instances WHERE id >= 1000 ORDER BY id',
    );
    expect(rows).toEqual([
      { id: '1000', result: 'hello', type: 'string' },
      { id: '1001', result: '{"looks":"like json"}', type: 'string' },
      { id: '1002', result: '42', type: 'string' },
      { id: '1003', result: '', type: 'string' },
      { id: '1004', result: null, type: null },
    ]);
  });
});
