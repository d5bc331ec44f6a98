import { type Logger, pino } from 'pino';
import { spawnBound } from './bound-child.js';
import { stopChild, type WatchedChild, watchChild } from './child-watch.js';
import { findProgram, isExecutable } from './find-on-path.js';
import { supervise } from './supervisor.js';

export interface NatsProcess {
  url: string;
  /** nats-server's current pid (a restart changes it). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface NatsProcessOptions {
  bin?: string;
  /** A config file (`-c`) every start uses, restarts included (auth, pid file). */
  configFile?: string;
  log?: Logger;
  /** Told nats-server's new pid after a restart. */
  onRestart?: (pid: number) => Promise<void>;
}

const INSTALL_HINT =
  'nats-server was not found on PATH nor in /usr/local/sbin, /usr/sbin, /sbin. Install it (Debian/Ubuntu: `apt-get install -y nats-server`; ' +
  'macOS: `brew install nats-server`; or a release from https://github.com/nats-io/nats-server), ' +
  'name it with DROVER_NATS_SERVER_BIN=<path>, or point `drover up --nats <url>` at a running one.';

const LISTENING = /Listening for client connections on [\d.]+:(\d+)/;
const READY_WITHIN_MS = 30_000;

async function spawnNats(
  bin: string,
  port: number,
  configFile: string | undefined,
  log: Logger,
  signal?: AbortSignal,
): Promise<{ watched: WatchedChild; port: number }> {
  const config = configFile ? ['-c', configFile] : [];
  const child = spawnBound(bin, [...config, '-a', '127.0.0.1', '-p', String(port)], {
    deathSignal: 'SIGTERM',
  });
  const watched = watchChild(child, 'nats-server', log);
  const onAbort = () => void stopChild(watched, 'SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const line = await watched.waitForLine(LISTENING, READY_WITHIN_MS);
    return { watched, port: Number(line.match(LISTENING)?.[1]) };
  } catch (err) {
    await stopChild(watched, 'SIGTERM');
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Spawns nats-server on a free loopback port (or `port`), waits until it
 * listens, and restarts it on the same port (and config) if it exits while we run.
 */
export async function startNatsProcess(
  port?: number,
  options: NatsProcessOptions = {},
): Promise<NatsProcess> {
  const named = options.bin ?? process.env.DROVER_NATS_SERVER_BIN;
  const bin = named ?? findProgram('nats-server');
  if (!bin) throw new Error(INSTALL_HINT);
  if (named && !isExecutable(named))
    throw new Error(`DROVER_NATS_SERVER_BIN names ${named}, which is not an executable file`);
  const log = options.log ?? pino({ level: 'silent' });
  const first = await spawnNats(bin, port ?? -1, options.configFile, log);
  const supervised = supervise({
    name: 'nats-server',
    first: first.watched,
    restart: async (signal) =>
      (await spawnNats(bin, first.port, options.configFile, log, signal)).watched,
    onRestart: options.onRestart,
    stopSignal: 'SIGTERM',
    log,
  });
  return {
    url: `nats://127.0.0.1:${first.port}`,
    get pid() {
      return supervised.pid;
    },
    stop: () => supervised.stop(),
  };
}
