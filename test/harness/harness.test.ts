import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { useDatabase, useNats } from './fixtures.js';
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
    // The template stays clean, so the next file's clone will not see this table.
    const template = new pg.Client({
      connectionString: databaseUrl(inject('pgAdminUrl'), inject('pgTemplate')),
    });
    await template.connect();
    try {
      const found = await template.query(`SELECT to_regclass('only_here') AS t`);
      expect(found.rows[0]?.t).toBeNull();
    } finally {
      await template.end();
    }
  });

  it('gives each file its own subject prefix', () => {
    expect(nats.app).toMatch(/^t_[0-9a-f]{12}$/);
    expect(nats.nc.isClosed()).toBe(false);
  });
});
