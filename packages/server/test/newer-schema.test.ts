import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { startTestServer } from './support/server-fixture.js';

// A database migrated by a newer Drover (a migration this build does not
// know) is refused at start with the migration's name, not retried forever
// and not run against a schema this build cannot read.

const db = useDatabase();

describe('a database from a newer Drover', () => {
  it('fails the server start naming the unknown migration', async () => {
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query("INSERT INTO drover_migrations (name) VALUES ('9999_from_the_future.sql')");
    await sql.end();

    const server = await startTestServer(db.url);
    try {
      await expect(server.ready).rejects.toThrow(
        /migrated by a newer Drover: migration 9999_from_the_future\.sql is unknown to this build/,
      );
    } finally {
      await server.stop();
    }
  });
});
