import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUserSeed, publicKeyOfSeed } from '@drover/transport';
import { nkeys } from '@nats-io/nats-core';
import { writeFileAtomic } from './write-file-atomic.js';

// What `drover up` keeps in <data dir>/nats/ so its nats-server requires
// authentication: the nkey seeds of the server, the monitor and the app's
// workers (each 0600, written atomically, kept across restarts), the main
// config nats-server runs with (`-c`), and the authorization file it
// includes, which the in-process server rewrites and reloads (SIGHUP).

export interface UpNatsFiles {
  dir: string;
  /** nats-server's main config: pid file and `include auth.conf`. */
  configFile: string;
  /** The include the server manages (users and their permissions). */
  authFile: string;
  pidFile: string;
  serverSeedFile: string;
  monitorSeedFile: string;
  serverSeed: Uint8Array;
  monitorPublicKey: string;
}

export const natsDir = (dataDir: string) => join(dataDir, 'nats');
/** The seed file of `app`'s workers (from the server's `POST /apps` answer). */
export const workerSeedFile = (dataDir: string, app: string) =>
  join(natsDir(dataDir), `worker-${app}.nk`);

/** The seed in `file`, or a new user seed written there (0600) if there is none. */
export async function ensureSeedFile(file: string): Promise<Uint8Array> {
  try {
    return parseUserSeed(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const text = new TextDecoder().decode(nkeys.createUser().getSeed());
  await writeFileAtomic(file, text, 0o600);
  return parseUserSeed(text, file);
}

/** The seed in `file` if it exists (a damaged one is an error naming it). */
export async function readSeedFileIfAny(file: string): Promise<Uint8Array | undefined> {
  try {
    return parseUserSeed(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Only the server may connect until it writes the full file (apps' workers, the monitor). */
export const bootstrapAuthConfig = (serverPublicKey: string) =>
  `# Managed by drover-server (drover up): rewritten when apps and worker keys change.
authorization {
  users = [
    { nkey: "${serverPublicKey}", permissions: { publish: ">", subscribe: ">" } }
  ]
}
`;

const mainConfig = (pidFile: string) =>
  `# nats-server config of drover up (listen address and port are given on its command line).
pid_file: ${JSON.stringify(pidFile)}
include "auth.conf"
`;

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/**
 * Creates (or finds) the seeds and writes the main config and, the first
 * time, an authorization that admits the server only; the server then
 * writes the real one before anyone else connects.
 */
export async function prepareNatsFiles(dataDir: string): Promise<UpNatsFiles> {
  const dir = natsDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = {
    dir,
    configFile: join(dir, 'nats.conf'),
    authFile: join(dir, 'auth.conf'),
    pidFile: join(dir, 'nats.pid'),
    serverSeedFile: join(dir, 'server.nk'),
    monitorSeedFile: join(dir, 'monitor.nk'),
  };
  const [serverSeed, monitorSeed] = await Promise.all([
    ensureSeedFile(files.serverSeedFile),
    ensureSeedFile(files.monitorSeedFile),
  ]);
  // The last run's authorization is kept: workers of that run reconnecting to
  // this nats-server are let in at once, not refused until the server rewrites it.
  if (!(await exists(files.authFile)))
    await writeFileAtomic(files.authFile, bootstrapAuthConfig(publicKeyOfSeed(serverSeed)), 0o600);
  await writeFileAtomic(files.configFile, mainConfig(files.pidFile), 0o600);
  return { ...files, serverSeed, monitorPublicKey: publicKeyOfSeed(monitorSeed) };
}
