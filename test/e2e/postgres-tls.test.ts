import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import {
  type DroverCluster,
  serverNatsArgs,
  startDroverCluster,
} from '../harness/drover-cluster.js';
import { spawnDrover } from '../harness/drover-process.js';
import { ownedByPostgres, type PostgresServer, startPostgres } from '../harness/postgres.js';
import { stopProcess } from '../harness/process.js';
import { makeTlsFiles } from '../harness/tls-certificates.js';

// Postgres over TLS, as docs/security.md tells an operator to set it up:
// `sslmode=verify-full` and the private CA in `sslrootcert` in the database
// URL. Every session of the server is encrypted and a job runs; a server
// that does not trust the CA says why and keeps retrying.

const DATABASE = 'drover_tls';
let dir: string;
let postgres: PostgresServer;
let cluster: DroverCluster;
let caFile: string;

const databaseUrl = (query: string) =>
  `postgres://postgres@127.0.0.1:${postgres.port}/${DATABASE}?${query}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-pg-tls-'));
  const files = await makeTlsFiles(dir);
  caFile = files.ca;
  // Postgres reads its key only if no one else can.
  await chmod(files.key, 0o600);
  await ownedByPostgres(dir, files.cert, files.key);
  postgres = await startPostgres({
    settings: ['ssl=on', `ssl_cert_file=${files.cert}`, `ssl_key_file=${files.key}`],
  });
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  cluster = await startDroverCluster(databaseUrl(`sslmode=verify-full&sslrootcert=${caFile}`), {
    workers: ['pg-tls-w1'],
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('runs a job with every session of the server encrypted', async () => {
  const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'over tls' } });
  const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
  expect(done.result).toBe('over tls');
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ sessions: number; encrypted: number }>(
      `SELECT count(*)::int AS sessions, count(*) FILTER (WHERE s.ssl)::int AS encrypted
       FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1`,
      [DATABASE],
    );
    expect(rows[0]?.sessions).toBeGreaterThan(0);
    expect(rows[0]?.encrypted).toBe(rows[0]?.sessions);
  } finally {
    await admin.end();
  }
});

it('keeps a server that does not trust the CA waiting, saying why', async () => {
  const { nats } = cluster;
  const server = await spawnDrover(
    'server',
    ['--http-port', '0', ...serverNatsArgs(nats)],
    {
      DROVER_NATS_URL: nats.url,
      DROVER_DATABASE_URL: databaseUrl('sslmode=verify-full'),
      DROVER_LOG_LEVEL: 'info',
    },
    /not signed by a CA this process trusts: give the CA with sslrootcert=<PEM file> in the database URL; retrying connect/,
  );
  try {
    expect(server.child.exitCode).toBeNull();
  } finally {
    await stopProcess(server, 'SIGKILL');
  }
});
