import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type RunAs, spawnBound } from './bound-child.js';
import { stopChild, type WatchedChild, watchChild } from './child-watch.js';
import { diskFull } from './disk-full.js';
import type { PostgresBinaries } from './postgres-binaries.js';

// Starts the Postgres server (the postmaster) of `drover up`'s cluster: on
// loopback TCP only, no Unix socket, durable (fsync and synchronous commits
// on), and ready once it logs so.

export interface PostmasterOptions {
  binaries: PostgresBinaries;
  pgdata: string;
  runAs: RunAs | undefined;
  log: Logger;
}

const READY = /database system is ready to accept connections/;
const PORT_TAKEN = /Address already in use|could not create any TCP\/IP sockets/;
// Crash recovery of a big WAL can take a while; a healthy start takes well under a second.
const READY_WITHIN_MS = 120_000;

export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/** A minimal environment: English messages, nothing of ours (secrets) visible to another user. */
export function postgresEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: process.env.TZ };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts postgres on `port`; resolves once it accepts connections. */
export async function startPostmaster(
  o: PostmasterOptions,
  port: number,
  signal?: AbortSignal,
): Promise<WatchedChild> {
  const args = [
    '-D',
    o.pgdata,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'fsync=on',
    '-c',
    'synchronous_commit=on',
  ];
  const child = spawnBound(join(o.binaries.dir, 'postgres'), args, {
    deathSignal: 'SIGINT', // fast shutdown
    runAs: o.runAs,
    env: postgresEnv(),
  });
  const watched = watchChild(child, 'postgres', o.log);
  const onAbort = () => void stopChild(watched, 'SIGINT');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await watched.waitForLine(READY, READY_WITHIN_MS);
    return watched;
  } catch (err) {
    await stopChild(watched, 'SIGINT');
    const output = watched.tail();
    const full = diskFull(o.pgdata, output);
    if (full) throw full;
    if (PORT_TAKEN.test(output)) throw new PortTakenError(`port ${port} is taken:\n${output}`);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Starts postgres on a free port, trying another if one is taken between probing and binding. */
export async function startOnFreePort(
  o: PostmasterOptions,
): Promise<{ watched: WatchedChild; port: number }> {
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    try {
      return { watched: await startPostmaster(o, port), port };
    } catch (err) {
      if (!(err instanceof PortTakenError) || tries >= 5) throw err;
      o.log.info({ port }, 'postgres lost its port to another process, trying another');
    }
  }
}
