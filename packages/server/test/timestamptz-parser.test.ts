import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { POOL_TYPES } from '../src/db/pool.js';
import { parseTimestamptz, TIMESTAMPTZ_OID } from '../src/db/timestamptz-parser.js';

// The server reads timestamptz with its own parser (pg's generic one cost ~7%
// of its CPU at full run rate). Every text Postgres can send must come out
// as the generic parser reads it: checked on what a real Postgres writes, in
// zones with half-hour and LMT (seconds) offsets, at every fraction length,
// and in the shapes left to the generic parser (BC, infinity, years < 100 or > 9999).

const db = useDatabase();
let client: pg.Client;
const generic = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => unknown;
const asNumber = (v: unknown) => (v instanceof Date ? v.getTime() : v);

beforeAll(async () => {
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(() => client.end());

const ZONES = [
  'UTC',
  'Asia/Kolkata',
  'America/St_Johns',
  'Pacific/Kiritimati',
  'America/Los_Angeles',
  'Europe/Amsterdam', // +00:19:32 before 1937
];
const VALUES = [
  '2026-12-03 03:04:25.123456+00',
  '2026-12-03 03:04:25.1+00',
  '2026-12-03 03:04:25.12+00',
  '2026-12-03 03:04:25.999999+00',
  '2026-12-03 03:04:25+00',
  '2024-02-29 23:59:59.5-08',
  '1900-06-01 12:00:00.0005+00',
  '1970-01-01 00:00:00+00',
  '1969-12-31 23:59:59.999+00',
  '0050-03-01 10:00:00+00',
  '0001-01-01 00:00:00+00',
  '0044-03-15 12:00:00+00 BC',
  '9999-12-31 23:59:59.999999+00',
  '10000-01-01 00:00:00+00',
  'infinity',
  '-infinity',
];

describe('parseTimestamptz', () => {
  it('reads every timestamptz text Postgres writes as the generic parser does', async () => {
    let compared = 0;
    for (const zone of ZONES) {
      await client.query(`SET TimeZone = '${zone}'`);
      const { rows } = await client.query<{ text: string }>(
        `SELECT v::timestamptz::text AS text FROM unnest($1::text[]) AS v`,
        [VALUES],
      );
      for (const { text } of rows) {
        expect(asNumber(parseTimestamptz(text)), `${zone}: ${text}`).toEqual(
          asNumber(generic(text)),
        );
        compared++;
      }
    }
    expect(compared).toBe(ZONES.length * VALUES.length);
  });

  it('reads random instants in every fraction length as the generic parser does', async () => {
    await client.query(`SET TimeZone = 'Asia/Kolkata'`);
    const { rows } = await client.query<{ text: string }>(
      `SELECT (timestamptz '1980-01-01' + random() * interval '80 years')::text AS text
       FROM generate_series(1, 2000)`,
    );
    const lengths = new Set<number>();
    for (const { text } of rows) {
      lengths.add(text.length);
      expect(asNumber(parseTimestamptz(text)), text).toEqual(asNumber(generic(text)));
    }
    expect(lengths.size).toBeGreaterThan(1);
  });

  it('is what the server pool reads timestamptz with; other types keep pg parsers', () => {
    expect(POOL_TYPES.getTypeParser(TIMESTAMPTZ_OID, 'text')).toBe(parseTimestamptz);
    const INT8_OID = 20;
    expect(POOL_TYPES.getTypeParser(INT8_OID, 'text')).toBe(
      pg.types.getTypeParser(INT8_OID, 'text'),
    );
  });
});
