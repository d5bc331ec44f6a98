import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@drover/transport';
import { type NatsConnection, nkeys } from '@nats-io/nats-core';
import { bootstrapAuthConfig, ensureSeedFile } from '../../packages/cli/src/up/nats-auth-files.js';
import { testLogger } from './logger.js';
import { type NatsServer, startNatsServer } from './nats-server.js';

// A nats-server that requires authentication, set up as an operator would:
// a main config with a pid file that includes an authorization file, which
// drover-server (--nats-auth-file, --nats-pid-file) rewrites and reloads with
// SIGHUP. Until then only the server's key is let in.

export interface AuthorizedNats extends NatsServer {
  /** Holds the configs, the pid file and the server's seed; kept across `restart`. */
  dir: string;
  authFile: string;
  pidFile: string;
  /** drover-server's nkey seed file (publish and subscribe `>`). */
  serverSeedFile: string;
  /** Stops nats-server and starts it again on the same port with the same (server-managed) files. */
  restart(): Promise<void>;
  /** A plain NATS client of the test, as `seed`'s user (default: the server's, allowed everything). */
  connect(name: string, seed?: Uint8Array): Promise<NatsConnection>;
}

/** A fresh authorized nats-server on a free port (its folder removed on stop); `config`: more lines (e.g. a `tls` block). */
export async function startAuthorizedNats(
  options: { config?: string } = {},
): Promise<AuthorizedNats> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-auth-nats-'));
  const files = {
    dir,
    authFile: join(dir, 'auth.conf'),
    pidFile: join(dir, 'nats.pid'),
    serverSeedFile: join(dir, 'server.nk'),
  };
  const serverSeed = await ensureSeedFile(files.serverSeedFile);
  const serverKey = nkeys.fromSeed(serverSeed).getPublicKey();
  await writeFile(files.authFile, bootstrapAuthConfig(serverKey), { mode: 0o600 });
  const config = `pid_file: ${JSON.stringify(files.pidFile)}\ninclude "auth.conf"\n${options.config ?? ''}`;
  let current: NatsServer;
  try {
    current = await startNatsServer({ dir, config });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const nats: AuthorizedNats = {
    ...files,
    url: current.url,
    port: current.port,
    get process() {
      return current.process;
    },
    async restart() {
      await current.stop();
      current = await startNatsServer({ dir, config, port: current.port });
    },
    async connect(name, seed = serverSeed) {
      return connectNats({ servers: current.url, name, nkeySeed: seed, log: testLogger(name) });
    },
    async stop() {
      await current.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return nats;
}
