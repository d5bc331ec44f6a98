import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from './fixtures.js';
import { databaseUrl } from './template.js';

// The harness itself: real servers, isolated per test file.

const db = useDatabase();
const nats = useNats();
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(() => client.end());

describe('test harness', () => {
  it('gives each file its own database cloned from the template', async () => {
    const { rows } = await client.query<{ db: string; port: string }>(
      `SELECT current_database() AS db, current_setting('port') AS port`,
    );
    expect(rows[0]?.db).toBe(db.name);
    expect(db.name).not.toBe(inject('pgTemplate'));
    await client.query('CREATE TABLE only_here (id int)');
    // The template stays clean, so the next file's clone will not see this
    // table. Checked on a fresh clone, not by connecting to the template: a
    // session on the template makes every other file's CREATE DATABASE fail.
    const next = uniqueName('drover_test');
    const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${next} TEMPLATE ${inject('pgTemplate')}`);
      const clone = new pg.Client({ connectionString: databaseUrl(inject('pgAdminUrl'), next) });
      await clone.connect();
      try {
        const found = await clone.query(`SELECT to_regclass('only_here') AS t`);
        expect(found.rows[0]?.t).toBeNull();
      } finally {
        await clone.end();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${next} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('gives each worker slot its own nats-server, so files running at once share none', () => {
    const urls = inject('natsUrls');
    expect(urls[Number(process.env.VITEST_POOL_ID ?? '1') - 1]).toBe(natsUrl());
    if (!process.env.DROVER_TEST_NATS_URL) expect(new Set(urls).size).toBe(urls.length);
  });

  it('gives each file its own subject prefix', () => {
    expect(nats.app).toMatch(/^t_[0-9a-f]{12}$/);
    expect(nats.nc.isClosed()).toBe(false);
  });
});
