import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { diskFull } from './disk-full.js';
import { initCluster, SUPERUSER } from './initdb.js';
import { clusterMajor, findPostgresBinaries } from './postgres-binaries.js';
import { assertReachable, giveTo, postgresRunAs } from './postgres-user.js';
import { startOnFreePort, startPostmaster } from './postmaster.js';
import { type Supervised, supervise } from './supervisor.js';
import { writeFileAtomic } from './write-file-atomic.js';

export interface EmbeddedPostgres {
  /** A `postgres://` URL (with the cluster's password) for the server's pool. */
  url: string;
  /** Which Postgres this is, for the banner: version, binaries, data. */
  description: string;
  /** The postmaster's current pid (a restart changes it). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** A folder holding initdb and postgres (--postgres-bin, DROVER_POSTGRES_BIN). */
  binDir?: string;
  log: Logger;
  /** Told the postmaster's new pid after a restart. */
  onRestart?: (pid: number) => Promise<void>;
}

/** The superuser's password, made at the first start; never logged, readable by the owner only. */
async function loadOrCreatePassword(dataDir: string, pgdataExists: boolean): Promise<string> {
  const file = join(dataDir, 'postgres-password');
  const known = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (known) return known.trim();
  if (pgdataExists)
    throw new Error(
      `${file} is missing: the Postgres cluster in ${dataDir}/pgdata cannot be opened without it`,
    );
  const created = randomBytes(24).toString('base64url');
  await writeFileAtomic(file, created, 0o600);
  return created;
}

/**
 * Lets other users pass through the data dir (not list it: its own files stay
 * 0600), so the Postgres user reaches pgdata; a mkdtemp folder is 0700.
 */
async function openToSearch(dataDir: string, log: Logger): Promise<void> {
  const { mode } = await stat(dataDir);
  if (mode & 0o001) return;
  await chmod(dataDir, (mode & 0o7777) | 0o001);
  log.info({ dataDir }, 'data dir opened to search (o+x) for the Postgres user');
}

/** Removes an empty `pgdata` (initdb wants to make it); refuses one holding something else. */
async function checkNoStrayFiles(pgdata: string): Promise<void> {
  const entries = await readdir(pgdata).catch(() => undefined);
  if (entries === undefined) return;
  if (entries.length > 0)
    throw new Error(`${pgdata} holds files but no Postgres cluster (no PG_VERSION): move it away`);
  await rm(pgdata, { recursive: true });
}

/**
 * A real Postgres server for `drover up`, with its cluster in
 * `<dataDir>/pgdata`: made on the first start, started on a free loopback
 * port, restarted on the same port if it dies, stopped with `drover up`.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const pgdata = join(dataDir, 'pgdata');
  const log = options.log;
  const runAs = await postgresRunAs();
  const binaries = await findPostgresBinaries(pgdata, options.binDir);
  const exists = (await clusterMajor(pgdata)) !== undefined;
  const password = await loadOrCreatePassword(dataDir, exists).catch((err: unknown) => {
    throw diskFull(dataDir, err) ?? err;
  });
  if (runAs) {
    await assertReachable(runAs, join(binaries.dir, 'postgres'), 'Postgres binary');
    await openToSearch(dataDir, log);
    await assertReachable(runAs, dataDir, 'data dir');
  }
  if (exists) {
    if (runAs) await giveTo(runAs, pgdata);
  } else {
    await checkNoStrayFiles(pgdata);
    const t0 = performance.now();
    await initCluster({ binaries, pgdata, password, runAs, log });
    log.info({ ms: Math.round(performance.now() - t0), pgdata }, 'created the Postgres cluster');
  }

  const postmaster = { binaries, pgdata, runAs, log };
  const { watched, port } = await startOnFreePort(postmaster);
  const supervised: Supervised = supervise({
    name: 'postgres',
    first: watched,
    restart: (signal) => startPostmaster(postmaster, port, signal),
    stopSignal: 'SIGINT',
    onRestart: options.onRestart,
    log,
  });
  return {
    url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    description: `PostgreSQL ${binaries.version} (${binaries.dir}), data in ${pgdata}`,
    get pid() {
      return supervised.pid;
    },
    stop: () => supervised.stop(),
  };
}
