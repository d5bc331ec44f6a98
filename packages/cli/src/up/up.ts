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
import {
  type ClusterInfo,
  loadOrCreateCredentials,
  removeClusterInfo,
  writeClusterInfo,
} from './cluster-files.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { checkHttpPortFree, httpPortTaken } from './http-port.js';
import { startNatsForDataDir } from './nats-port.js';

export interface UpOptions {
  dataDir: string;
  workers: number;
  app: string;
  httpPort: number;
  /** Modules exporting the workers' processors, relative to the cwd (default: the examples). */
  processors?: readonly string[];
  /** External NATS instead of a spawned nats-server. */
  natsUrl?: string;
  /** External Postgres instead of the embedded one. */
  databaseUrl?: string;
  /** A folder holding initdb and postgres for the embedded one (else they are looked for). */
  postgresBin?: string;
  log: Logger;
}

export interface UpCluster extends ClusterInfo {
  secret: string;
  database: string;
  workerIds: string[];
  /** Pids of the children `up` spawned (nats-server, the postmaster), as they are now. */
  childPids(): number[];
  /** The processors the workers run, and whether they are the examples. */
  processors: { name: string; kind: Processor['kind'] }[];
  examples: boolean;
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
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Before anything touches the data dir: a second `up` on it fails here.
  const lock = await acquireDataDirLock(dataDir, options.log);
  const stops: (() => Promise<void>)[] = [() => lock.release()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    await checkHttpPortFree(options.httpPort);
    // Both children start at once (initdb takes the longest); whichever started is stopped on failure.
    const [natsStarted, pgStarted] = await Promise.allSettled([
      options.natsUrl ? undefined : startNatsForDataDir(dataDir, options.log),
      options.databaseUrl
        ? undefined
        : startEmbeddedPostgres(dataDir, {
            binDir: options.postgresBin,
            log: options.log.child({ role: 'postgres' }),
          }),
    ]);
    const nats = natsStarted.status === 'fulfilled' ? natsStarted.value : undefined;
    const pg = pgStarted.status === 'fulfilled' ? pgStarted.value : undefined;
    if (nats) stops.push(() => nats.stop());
    if (pg) stops.push(() => pg.stop());
    if (natsStarted.status === 'rejected') throw natsStarted.reason;
    if (pgStarted.status === 'rejected') throw pgStarted.reason;
    // A later `up` that finds this lock stale ends these if they outlived us.
    const children = [nats?.pid, pg?.pid].filter((pid): pid is number => pid !== undefined);
    if (children.length) await lock.update({ children });
    const natsUrl = options.natsUrl ?? (nats?.url as string);
    const databaseUrl = options.databaseUrl ?? (pg?.url as string);

    const server: DroverServer = await startServer(
      {
        natsUrl,
        databaseUrl,
        httpHost: '127.0.0.1',
        httpPort: options.httpPort,
        serverId: 'up-server',
      },
      options.log.child({ role: 'server' }),
    ).catch((err: NodeJS.ErrnoException) => {
      // Taken since the check above.
      throw err.code === 'EADDRINUSE' ? httpPortTaken(options.httpPort) : err;
    });
    stops.push(() => server.stop());
    await server.ready;

    const credentials = await loadOrCreateCredentials(dataDir, options.app);
    const created = await fetch(`${server.url}/api/v1/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: credentials.app, secret: credentials.secret }),
    });
    if (created.status !== 201 && created.status !== 409) {
      throw new Error(`could not create app ${credentials.app}: ${await created.text()}`);
    }

    // Workers start at once: each waits for its processor threads to load the modules.
    const started = await Promise.allSettled(
      Array.from({ length: options.workers }, (_, i) =>
        startWorker({
          natsUrl,
          app: credentials.app,
          secret: credentials.secret,
          workerId: `up-worker-${i + 1}`,
          processors,
          processorsModule: modules,
          concurrency: 8,
          // The worker adds its workerId to its own log lines.
          log: options.log.child({ role: 'worker' }),
        }),
      ),
    );
    const workers: DroverWorker[] = [];
    for (const s of started) {
      if (s.status !== 'fulfilled') continue;
      workers.push(s.value);
      stops.push(() => s.value.stop());
    }
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;

    const info = { serverUrl: server.url, natsUrl, app: credentials.app };
    await writeClusterInfo(dataDir, info);
    stops.push(() => removeClusterInfo(dataDir));
    return {
      ...info,
      secret: credentials.secret,
      database: pg ? pg.description : 'external Postgres',
      workerIds: workers.map((w) => w.workerId),
      childPids: () => [nats?.pid, pg?.pid].filter((pid): pid is number => pid !== undefined),
      processors: processors.map(({ name, kind }) => ({ name, kind })),
      examples,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
