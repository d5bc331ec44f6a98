import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../packages/cli/src/up/postmaster.js';
import { type ReadyProcess, spawnReady, stopProcess } from './process.js';

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  /** Superuser URL of the `postgres` database, for creating databases. */
  adminUrl: string;
  port: number;
  /** The postmaster's pid (its backends are its children), e.g. to read CPU from /proc. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Folder of the Postgres server binaries: $PG_BINDIR, `pg_config --bindir`, or the newest under /usr/lib/postgresql. */
async function pgBinDir(): Promise<string> {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    const versions = await readdir('/usr/lib/postgresql').catch(() => []);
    const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
    if (!newest) {
      throw new Error(
        'PostgreSQL server binaries not found: apt-get install -y postgresql, or set PG_BINDIR',
      );
    }
    return `/usr/lib/postgresql/${newest}/bin`;
  }
}

/** initdb refuses to run as root: run the cluster as the `postgres` user then. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Hands files (e.g. its TLS key and certificate) to the user the test Postgres runs as. */
export async function ownedByPostgres(...paths: string[]): Promise<void> {
  const { uid, gid } = runAs();
  if (uid === undefined || gid === undefined) return;
  for (const path of paths) await chown(path, uid, gid);
}

// The same probe `drover up` uses for its Postgres port.
export { freePort };

export interface PostgresOptions {
  /**
   * Durable as users run it (fsync, synchronous_commit and full_page_writes
   * on), for benchmarks; default: tuned for tests, nothing synced.
   */
  durable?: boolean;
  /** Loads pg_stat_statements with planning tracked, for benchmarks that say where Postgres spends its time. */
  statementStats?: boolean;
  /** More settings (`name=value`), e.g. `ssl=on`. */
  settings?: string[];
}

/** A throwaway Postgres cluster on a free loopback port, tuned for tests (no fsync) unless `durable`. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const sync = options.durable ? 'on' : 'off';
  const bin = await pgBinDir();
  const user = runAs();
  const dir = await mkdtemp(join(tmpdir(), 'drover-pg-'));
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  await execFileAsync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'],
    { ...user, timeout: 120_000 },
  ).catch((err: Error & { stderr?: string }) => {
    throw new Error(`initdb failed: ${err.message}\n${err.stderr ?? ''}`);
  });

  // A free port can be taken between probing and binding: try a few.
  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    let proc: ReadyProcess;
    try {
      proc = await spawnReady(
        join(bin, 'postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-k',
          dir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `fsync=${sync}`,
          '-c',
          `synchronous_commit=${sync}`,
          '-c',
          `full_page_writes=${sync}`,
          '-c',
          'max_connections=300',
          ...(options.statementStats
            ? [
                '-c',
                'shared_preload_libraries=pg_stat_statements',
                '-c',
                'pg_stat_statements.track_planning=on',
              ]
            : []),
          ...(options.settings ?? []).flatMap((setting) => ['-c', setting]),
        ],
        { ...user, ready: /database system is ready to accept connections/, timeoutMs: 60_000 },
      );
    } catch (err) {
      lastError = err;
      continue;
    }
    return {
      adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      pid: proc.child.pid,
      async stop() {
        // SIGINT is Postgres's "fast shutdown".
        await stopProcess(proc, 'SIGINT');
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
