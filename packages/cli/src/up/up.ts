import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DroverServer, startServer } from '@drover/server';
import {
  type DroverWorker,
  FROM_SOURCE,
  loadProcessors,
  type Processor,
  startWorker,
} from '@drover/worker';
import type { Logger } from 'pino';
import { z } from 'zod';
import { childrenDieOnKill } from './bound-child.js';
import {
  type ClusterInfo,
  type Credentials,
  credentialsFile,
  loadOrCreateAdminToken,
  newCredentials,
  readCredentials,
  removeClusterInfo,
  writeClusterInfo,
  writeCredentials,
} from './cluster-files.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { checkHttpPortFree, httpPortTaken } from './http-port.js';
import { prepareNatsFiles, workerSeedFile } from './nats-auth-files.js';
import { startNatsForDataDir } from './nats-port.js';
import type { NatsProcess } from './nats-process.js';
import { StopList } from './stop-list.js';
import { ensureWorkerSeed, externalNatsSeed, managedNatsAuth } from './up-nats.js';

const CreatedApp = z.object({ workerKey: z.object({ seed: z.string() }) });

export interface UpOptions {
  dataDir: string;
  workers: number;
  app: string;
  httpPort: number;
  /** Modules exporting the workers' processors, relative to the cwd (default: the examples). */
  processors?: readonly string[];
  /** External NATS instead of a spawned nats-server (no credentials in it: see natsNkeyFile). */
  natsUrl?: string;
  /** With natsUrl: the nkey seed file every process of this `up` connects with. */
  natsNkeyFile?: string;
  /** With natsUrl: accept a NATS without authentication. */
  insecureNats?: boolean;
  /** External Postgres instead of the embedded one. */
  databaseUrl?: string;
  /** A folder holding initdb and postgres for the embedded one (else they are looked for). */
  postgresBin?: string;
  /** Aborting it (Ctrl-C while starting) stops what started, releases the lock, and rejects. */
  signal?: AbortSignal;
  log: Logger;
}

export interface UpCluster extends ClusterInfo {
  secret: string;
  database: string;
  workerIds: string[];
  /** The processors the workers run, and whether they are the examples. */
  processors: { name: string; kind: Processor['kind'] }[];
  examples: boolean;
  /** Stops everything; rejects with StopError naming what did not stop cleanly. */
  stop(): Promise<void>;
}

// The example processors, as a module path the processor threads load too.
const EXAMPLES = fileURLToPath(
  new URL(`../examples/processors.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url),
);

/**
 * A whole cluster in this process: nats-server (spawned), Postgres (spawned,
 * its cluster under the data dir), a server and `workers` workers running the
 * user's processors (`processors` modules) or the examples. A second `up` on
 * the same data dir finds its jobs and history.
 */
export async function up(options: UpOptions): Promise<UpCluster> {
  // Loaded first: a module that does not load fails `up` before anything starts.
  const examples = !options.processors?.length;
  const modules = options.processors?.map((m) => resolve(m)) ?? [];
  if (examples) modules.push(EXAMPLES);
  const processors = await loadProcessors(modules);
  const { signal, log } = options;
  const externalSeed = await externalNatsSeed(options);
  signal?.throwIfAborted();
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Before anything touches the data dir: a second `up` on it fails here.
  const lock = await acquireDataDirLock(dataDir, log);
  const stops = new StopList();
  stops.add('the data-dir lock', () => lock.release());
  let nats: NatsProcess | undefined;
  let pg: EmbeddedPostgres | undefined;
  // A later `up` that finds this lock stale ends these if they outlived us:
  // recorded once both run, and again (in order) whenever one is restarted.
  let recording = Promise.resolve();
  const recordChildren = () => {
    recording = recording.then(() =>
      lock.update({
        children: [nats?.pid, pg?.pid].filter((pid): pid is number => pid !== undefined),
      }),
    );
    return recording;
  };
  try {
    await checkHttpPortFree(options.httpPort);
    signal?.throwIfAborted();
    const spawning = !options.natsUrl || !options.databaseUrl;
    if (spawning && !childrenDieOnKill())
      log.warn(
        'setpriv not found (Linux util-linux) or not Linux: nats-server and postgres cannot be bound ' +
          'to drover up; after a kill -9 they run on until the next drover up on this data dir ends them',
      );
    // The spawned nats-server requires authentication from its first start.
    const natsFiles = options.natsUrl ? undefined : await prepareNatsFiles(dataDir);
    log.info({ dataDir }, 'starting nats-server and Postgres');
    // Both children start at once (initdb takes the longest); whichever started is stopped on failure.
    const [natsStarted, pgStarted] = await Promise.allSettled([
      natsFiles
        ? startNatsForDataDir(dataDir, log, recordChildren, natsFiles.configFile)
        : undefined,
      options.databaseUrl
        ? undefined
        : startEmbeddedPostgres(dataDir, {
            binDir: options.postgresBin,
            log: log.child({ role: 'postgres' }),
            onRestart: recordChildren,
          }),
    ]);
    nats = natsStarted.status === 'fulfilled' ? natsStarted.value : undefined;
    pg = pgStarted.status === 'fulfilled' ? pgStarted.value : undefined;
    const [natsUp, pgUp] = [nats, pg];
    if (natsUp) stops.add('nats-server', () => natsUp.stop());
    if (pgUp) stops.add('postgres', () => pgUp.stop());
    if (natsStarted.status === 'rejected') throw natsStarted.reason;
    if (pgStarted.status === 'rejected') throw pgStarted.reason;
    if (nats || pg) await recordChildren();
    signal?.throwIfAborted();
    const natsUrl = options.natsUrl ?? (nats?.url as string);
    const databaseUrl = options.databaseUrl ?? (pg?.url as string);
    // Secure by default: its server creates apps only with this token (`drover env` prints it).
    const adminToken = await loadOrCreateAdminToken(dataDir);

    const natsRunning = nats;
    const server: DroverServer = await startServer(
      {
        natsUrl,
        databaseUrl,
        httpHost: '127.0.0.1',
        httpPort: options.httpPort,
        serverId: 'up-server',
        adminToken,
        ...(natsFiles && natsRunning
          ? managedNatsAuth(natsFiles, natsRunning)
          : {
              natsNkeySeed: externalSeed && new Uint8Array(externalSeed),
              insecureNats: options.insecureNats,
            }),
      },
      log.child({ role: 'server' }),
    ).catch((err: NodeJS.ErrnoException) => {
      // Taken since the check above.
      throw err.code === 'EADDRINUSE' ? httpPortTaken(options.httpPort) : err;
    });
    stops.add('the server', () => server.stop());
    await server.ready;
    signal?.throwIfAborted();

    const credentials = await ensureApp(server.url, adminToken, dataDir, options.app);
    signal?.throwIfAborted();
    // Our own NATS: the app's worker key (kept from the app's creation); an external one: the given key.
    const workerSeed = natsFiles
      ? await ensureWorkerSeed(server.url, dataDir, credentials)
      : externalSeed;
    signal?.throwIfAborted();

    // Workers start at once: each waits for its processor threads to load the modules.
    const started = await Promise.allSettled(
      Array.from({ length: options.workers }, (_, i) =>
        startWorker({
          natsUrl,
          app: credentials.app,
          natsNkeySeed: workerSeed,
          insecureNats: options.insecureNats,
          workerId: `up-worker-${i + 1}`,
          processors,
          processorsModule: modules,
          concurrency: 8,
          // The worker adds its workerId to its own log lines.
          logger: log.child({ role: 'worker' }),
        }),
      ),
    );
    const workers: DroverWorker[] = [];
    for (const s of started) {
      if (s.status !== 'fulfilled') continue;
      workers.push(s.value);
      stops.add(s.value.workerId, () => s.value.stop());
    }
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;

    const info: ClusterInfo = {
      serverUrl: server.url,
      natsUrl,
      app: credentials.app,
      ...(natsFiles
        ? {
            workerNkeyFile: workerSeedFile(dataDir, credentials.app),
            monitorNkeyFile: natsFiles.monitorSeedFile,
          }
        : options.natsNkeyFile
          ? {
              workerNkeyFile: resolve(options.natsNkeyFile),
              monitorNkeyFile: resolve(options.natsNkeyFile),
            }
          : {}),
      ...(options.insecureNats ? { insecureNats: true } : {}),
    };
    signal?.throwIfAborted();
    await writeClusterInfo(dataDir, info);
    stops.add('cluster.json', () => removeClusterInfo(dataDir));
    return {
      ...info,
      secret: credentials.secret,
      database: pg ? pg.description : 'external Postgres',
      workerIds: workers.map((w) => w.workerId),
      processors: processors.map(({ name, kind }) => ({ name, kind })),
      examples,
      stop: () => stops.stopAll(),
    };
  } catch (err) {
    await stops
      .stopAll()
      .catch((stopErr: Error) =>
        log.error({ err: stopErr.message }, 'while stopping after a failed start'),
      );
    throw err;
  }
}

/**
 * Creates the app with the secret in credentials.json, or with a new secret
 * written there once the app exists. An app that already exists while
 * credentials.json is missing has a secret we no longer know: our own workers
 * would be refused, so that is an error naming the file to restore.
 */
async function ensureApp(
  serverUrl: string,
  adminToken: string,
  dataDir: string,
  app: string,
): Promise<Credentials & { workerSeed?: string }> {
  const known = await readCredentials(dataDir);
  const credentials = known ?? newCredentials(app);
  const created = await fetch(`${serverUrl}/api/v1/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ name: credentials.app, secret: credentials.secret }),
  });
  if (created.status === 409 && !known)
    throw new Error(
      `app ${credentials.app} already exists in the database but ${credentialsFile(dataDir)} is missing: ` +
        'restore that file (it holds the app secret) from where it was, or use another --data-dir',
    );
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`could not create app ${credentials.app}: ${await created.text()}`);
  if (!known) await writeCredentials(dataDir, credentials);
  if (created.status !== 201) return credentials;
  const answer = CreatedApp.safeParse(await created.json());
  return { ...credentials, workerSeed: answer.success ? answer.data.workerKey.seed : undefined };
}
