import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { pgArray } from '../src/db/pg-array.js';

const db = useDatabase();
let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
});
afterAll(() => pool.end());

const roundTrip = async (type: string, values: Parameters<typeof pgArray>[0]) =>
  (await pool.query<{ a: unknown[] }>(`SELECT $1::${type}[] AS a`, [pgArray(values)])).rows[0]?.a;

describe('pgArray', () => {
  it('carries text Postgres must unquote: quotes, backslashes, braces, commas, NULL as a word', async () => {
    const texts = [
      'plain',
      '',
      'with "quotes"',
      'back\\slash \\" both',
      '{braces}, commas, and spaces ',
      'NULL',
      'null',
      '  leading',
      'ünïcødé ✓ 🚀',
      'line\nbreak\ttab',
    ];
    expect(await roundTrip('text', texts)).toEqual(texts);
  });

  it('carries SQL NULL for null and undefined, numbers and booleans as they print', async () => {
    expect(await roundTrip('text', [null, 'x', undefined])).toEqual([null, 'x', null]);
    expect(await roundTrip('bigint', ['9007199254740993', 1, null])).toEqual([
      '9007199254740993',
      '1',
      null,
    ]);
    expect(await roundTrip('float8', [1.5, 1700000000000.25, -0.001, null])).toEqual([
      1.5,
      1700000000000.25,
      -0.001,
      null,
    ]);
    expect(await roundTrip('bool', [true, false, null])).toEqual([true, false, null]);
  });

  it('carries JSON text of any value into jsonb', async () => {
    const values = [
      { a: 'say "hi"\\' },
      [1, { b: null }],
      'text',
      0,
      null,
      { nested: { '}': ',' } },
    ];
    expect(
      await roundTrip(
        'jsonb',
        values.map((v) => JSON.stringify(v)),
      ),
    ).toEqual(values);
    expect(await roundTrip('jsonb', [])).toEqual([]);
  });
});
