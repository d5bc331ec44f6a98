import { randomBytes } from 'node:crypto';
import { Bus, connectNats } from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { testLogger } from './logger.js';
import { databaseUrl } from './template.js';

/**
 * This file's nats-server: the one of its worker slot, which no file running
 * at the same time uses (see global-setup.ts).
 */
export function natsUrl(): string {
  const urls = inject('natsUrls');
  const slot = Number(process.env.VITEST_POOL_ID ?? '1');
  const url = urls[slot - 1];
  if (!url) throw new Error(`no nats-server for worker slot ${slot} (${urls.length} started)`);
  return url;
}

/** A name no other test file uses: isolates subjects (`drover.<app>.…`) and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export interface NatsFixture {
  app: string;
  nc: NatsConnection;
  bus: Bus;
  /** Another connection, for the other side of a conversation. */
  connect(name: string): Promise<Bus>;
}

/** A connection to the run's nats-server and an app name of this file's own. */
export function useNats(): NatsFixture {
  const app = uniqueName('t');
  const opened: NatsConnection[] = [];
  const connect = async (name: string) => {
    const nc = await connectNats({
      servers: natsUrl(),
      name,
      log: testLogger(name),
      insecureNats: true,
    });
    opened.push(nc);
    return new Bus(nc, testLogger(name));
  };
  const fixture = { app, connect } as NatsFixture;
  beforeAll(async () => {
    fixture.bus = await connect('test');
    fixture.nc = fixture.bus.nc;
  });
  afterAll(async () => {
    await Promise.all(opened.map((nc) => nc.close()));
  });
  return fixture;
}

export interface DatabaseFixture {
  url: string;
  name: string;
}

/** A database cloned from the migrated template, dropped after the file. */
export function useDatabase(): DatabaseFixture {
  const name = uniqueName('drover_test');
  const fixture: DatabaseFixture = { name, url: databaseUrl(inject('pgAdminUrl'), name) };
  const admin = () => new pg.Client({ connectionString: inject('pgAdminUrl') });
  beforeAll(async () => {
    const client = admin();
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
    } finally {
      await client.end();
    }
  });
  afterAll(async () => {
    const client = admin();
    await client.connect();
    try {
      // A pool's end() resolves before its connections have closed: terminated
      // now (FORCE), a closing one errors, and a pool without an 'error'
      // listener throws it uncaught (seen in CI). Their sessions go first,
      // within a bound; FORCE ends any left.
      for (let i = 0; i < 100; i++) {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
          [name],
        );
        if (rows[0]?.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  return fixture;
}
