import { execFile } from 'node:child_process';
import { chown, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { type RunAs, spawnBound } from './bound-child.js';
import { watchChild } from './child-watch.js';
import { diskFull } from './disk-full.js';
import type { PostgresBinaries } from './postgres-binaries.js';
import { postgresEnv } from './postmaster.js';

const execFileAsync = promisify(execFile);

// Creates the cluster of `drover up`: password authentication (scram) for its
// superuser `postgres`, on a folder next to `pgdata` that is renamed into
// place once it is complete and on disk, so a crash during initdb never leaves
// a half-made cluster where a cluster is expected. initdb runs with -N (no
// sync of its own, which fsyncs file by file) and the folder's file system is
// synced once after: the same durability, in a fraction of the time.

export interface InitdbOptions {
  binaries: PostgresBinaries;
  pgdata: string;
  password: string;
  runAs: RunAs | undefined;
  log: Logger;
}

export const SUPERUSER = 'postgres';

async function owned(path: string, runAs: RunAs | undefined): Promise<void> {
  if (runAs) await chown(path, runAs.uid, runAs.gid);
}

/** Flushes the file system holding `dir` (syncfs) and the folder entry of `dir`. */
async function syncDir(dir: string): Promise<void> {
  await execFileAsync('sync', process.platform === 'linux' ? ['-f', dir] : []);
  const parent = await open(dirname(dir), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}

export async function initCluster(o: InitdbOptions): Promise<void> {
  const building = `${o.pgdata}.initdb`;
  const pwfile = `${o.pgdata}.initdb-password`;
  await rm(building, { recursive: true, force: true });
  try {
    await mkdir(building, { mode: 0o700 });
    await owned(building, o.runAs);
    await writeFile(pwfile, o.password, { mode: 0o600 });
    await owned(pwfile, o.runAs);
    const child = spawnBound(
      join(o.binaries.dir, 'initdb'),
      [
        '-D',
        building,
        '-U',
        SUPERUSER,
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '-N',
      ],
      { deathSignal: 'SIGTERM', runAs: o.runAs, env: postgresEnv() },
    );
    const watched = watchChild(child, 'initdb', o.log);
    const { code, signal } = await watched.exited;
    if (code !== 0) {
      throw (
        diskFull(dirname(o.pgdata), watched.tail()) ??
        new Error(`initdb failed (${signal ?? code}):\n${watched.tail()}`)
      );
    }
    await syncDir(building);
    await rename(building, o.pgdata);
    await syncDir(o.pgdata);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw diskFull(dirname(o.pgdata), err) ?? err;
  } finally {
    await rm(pwfile, { force: true });
  }
}
