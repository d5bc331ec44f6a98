import { readNkeySeedFile } from '@drover/transport';
import { z } from 'zod';
import type { Credentials } from './cluster-files.js';
import { readSeedFileIfAny, type UpNatsFiles, workerSeedFile } from './nats-auth-files.js';
import type { NatsProcess } from './nats-process.js';
import { writeFileAtomic } from './write-file-atomic.js';

// How `drover up`'s server and workers authenticate to NATS: with our own
// nats-server, the server manages its authorization and the workers use the
// app's worker key; with an external one (--nats), the key the operator gave.

/**
 * The seed for an external NATS (`--nats`): from `natsNkeyFile`, or none with
 * `insecureNats`. Credentials inside the URL are refused: argv shows in `ps`,
 * and cluster.json, banners and `drover env` would repeat them.
 */
export async function externalNatsSeed(options: {
  natsUrl?: string;
  natsNkeyFile?: string;
  insecureNats?: boolean;
}): Promise<Uint8Array | undefined> {
  if (!options.natsUrl) {
    if (options.natsNkeyFile || options.insecureNats)
      throw new Error(
        '--nats-nkey-file and --insecure-nats go with --nats <url>; drover up makes its own NATS keys',
      );
    return undefined;
  }
  if (/^([a-z]+:\/\/)?[^@/]*@/i.test(options.natsUrl))
    throw new Error(
      '--nats: a URL with credentials (user:password@) is refused (command lines show in `ps`); ' +
        'give the NATS user an nkey and pass its seed file with --nats-nkey-file (see docs/security.md)',
    );
  if (!options.natsNkeyFile) return undefined;
  return readNkeySeedFile(options.natsNkeyFile);
}

/** The server manages our nats-server's authorization file and reloads it with SIGHUP. */
export function managedNatsAuth(files: UpNatsFiles, nats: NatsProcess) {
  return {
    natsNkeySeed: new Uint8Array(files.serverSeed), // its own ArrayBuffer, as the config wants
    natsMonitorKeys: [files.monitorPublicKey],
    natsAuth: {
      file: files.authFile,
      reload: async () => {
        // Between a crash and its restart there is no pid: the restarted one reads the file anyway.
        const pid = nats.pid;
        if (pid !== undefined) process.kill(pid, 'SIGHUP');
      },
    },
  };
}

/**
 * The app's worker seed: written when `POST /apps` created the app (its
 * answer holds it once); for an app created before this data dir kept one,
 * a new worker key is asked for with the app's secret.
 */
export async function ensureWorkerSeed(
  serverUrl: string,
  dataDir: string,
  credentials: Credentials & { workerSeed?: string },
): Promise<Uint8Array> {
  const file = workerSeedFile(dataDir, credentials.app);
  if (credentials.workerSeed) await writeWorkerSeed(file, credentials.workerSeed);
  const known = await readSeedFileIfAny(file);
  if (known) return known;
  const res = await fetch(
    `${serverUrl}/api/v1/apps/${encodeURIComponent(credentials.app)}/worker-keys`,
    { method: 'POST', headers: { authorization: `Bearer ${credentials.secret}` } },
  );
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`could not get a worker key for app ${credentials.app}: HTTP ${res.status}`);
  const { seed } = WorkerKey.parse(await res.json());
  await writeWorkerSeed(file, seed);
  return new TextEncoder().encode(seed);
}

const WorkerKey = z.object({ publicKey: z.string(), seed: z.string().startsWith('SU') });

const writeWorkerSeed = (file: string, seed: string) => writeFileAtomic(file, seed, 0o600);
