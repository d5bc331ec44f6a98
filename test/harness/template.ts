import { migrate } from '@drover/server';
import pg from 'pg';
import { testLogger } from './logger.js';

/** Name of the migrated database every test file clones. */
export const TEMPLATE_DB = 'drover_template';

/**
 * (Re)creates the template database. Schema migrations are applied here once
 * per run, so each test file's clone starts migrated without paying for it.
 */
export async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const pool = new pg.Pool({ connectionString: databaseUrl(adminUrl, TEMPLATE_DB), max: 1 });
  try {
    await migrate(pool, testLogger('migrate'));
  } finally {
    await pool.end();
  }
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
