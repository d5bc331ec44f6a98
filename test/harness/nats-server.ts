import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReadyProcess, spawnReady, stopProcess } from './process.js';

export interface NatsServerOptions {
  /** Extra lines for the server's config file (e.g. `max_payload: 65536`). */
  config?: string;
  /** Reuse a port, e.g. to restart a server in place. */
  port?: number;
  /** Where its config goes (files it includes live there too); kept on stop. Default: a temp dir, removed on stop. */
  dir?: string;
  /**
   * Initial text of an authorization file the config includes (e.g.
   * `natsAuthConfig(keys)`); its path is `authFile`, for drover-server to rewrite.
   */
  authorization?: string;
}

export interface NatsServer {
  url: string;
  port: number;
  process: ReadyProcess;
  /** Holds the server's pid (`-P`): SIGHUP it after changing the config to reload. */
  pidFile: string;
  /** The included authorization file, when started with `authorization`. */
  authFile?: string;
  stop(): Promise<void>;
}

// Beside the main config: nats-server resolves `include` against the including file's directory.
const AUTH_FILE = 'drover-auth.conf';

const BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** Starts a real nats-server on a free loopback port (`-p -1`), reading its port from its log. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'drover-nats-')));
  const removeDir = () =>
    options.dir ? Promise.resolve() : rm(dir, { recursive: true, force: true });
  const configFile = join(dir, 'nats.conf');
  const pidFile = join(dir, 'nats.pid');
  const authFile = options.authorization === undefined ? undefined : join(dir, AUTH_FILE);
  if (authFile) await writeFile(authFile, options.authorization ?? '');
  const include = authFile ? `include "${AUTH_FILE}"\n` : '';
  await writeFile(configFile, `${include}${options.config ?? ''}`);
  const args = [
    '-c',
    configFile,
    '-a',
    '127.0.0.1',
    '-p',
    String(options.port ?? -1),
    '-P',
    pidFile,
  ];
  let proc: ReadyProcess;
  try {
    proc = await spawnReady(BIN, args, {
      ready: /Server is ready/,
      timeoutMs: 20_000,
    });
  } catch (err) {
    await removeDir();
    const hint = (err as Error).message.includes('ENOENT')
      ? ' (install it: apt-get install -y nats-server, or set NATS_SERVER_BIN)'
      : '';
    throw new Error(`${(err as Error).message}${hint}`);
  }
  const port = Number(proc.find(/Listening for client connections on 127\.0\.0\.1:(\d+)/));
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: proc,
    pidFile,
    authFile,
    async stop() {
      await stopProcess(proc);
      await removeDir();
    },
  };
}
