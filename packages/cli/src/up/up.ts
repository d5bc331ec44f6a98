import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DroverServer, startServer } from '@drover/server';
import { type DroverWorker, loadProcessors, startWorker } from '@drover/worker';
import type { Logger } from 'pino';
import {
  type ClusterInfo,
  loadOrCreateCredentials,
  removeClusterInfo,
  writeClusterInfo,
} from './cluster-files.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startNatsForDataDir } from './nats-port.js';

export interface UpOptions {
  dataDir: string;
  workers: number;
  app: string;
  httpPort: number;
  /** External NATS instead of a spawned nats-server. */
  natsUrl?: string;
  /** External Postgres instead of the embedded one. */
  databaseUrl?: string;
  log: Logger;
}

export interface UpCluster extends ClusterInfo {
  secret: string;
  database: string;
  workerIds: string[];
  stop(): Promise<void>;
}

// The example processors, as a module path the processor threads load too.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXAMPLES = fileURLToPath(
  new URL(`../examples/processors.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url),
);

/**
 * A whole cluster in this process: nats-server (spawned), Postgres (PGlite
 * under the data dir), a server and `workers` workers running the example
 * processors. A second `up` on the same data dir finds its jobs and history.
 */
export async function up(options: UpOptions): Promise<UpCluster> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Before anything touches the data dir: a second `up` on it fails here.
  const lock = await acquireDataDirLock(dataDir, options.log);
  const stops: (() => Promise<void>)[] = [() => lock.release()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const nats = options.natsUrl ? undefined : await startNatsForDataDir(dataDir, options.log);
    if (nats) stops.push(() => nats.stop());
    if (nats?.pid) await lock.update({ children: [nats.pid] });
    const natsUrl = options.natsUrl ?? (nats?.url as string);

    const pg = options.databaseUrl
      ? undefined
      : await startEmbeddedPostgres(join(dataDir, 'pgdata'));
    if (pg) stops.push(() => pg.stop());
    const databaseUrl = options.databaseUrl ?? (pg?.url as string);

    const server: DroverServer = await startServer(
      {
        natsUrl,
        databaseUrl,
        databasePoolSize: pg?.poolSize,
        httpHost: '127.0.0.1',
        httpPort: options.httpPort,
        serverId: 'up-server',
      },
      options.log.child({ role: 'server' }),
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') throw err;
      throw new Error(
        `HTTP port ${options.httpPort} is in use; stop what holds it or use --port 0`,
      );
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

    const processors = await loadProcessors(EXAMPLES);
    const workers: DroverWorker[] = [];
    for (let i = 1; i <= options.workers; i++) {
      const worker = await startWorker({
        natsUrl,
        app: credentials.app,
        secret: credentials.secret,
        workerId: `up-worker-${i}`,
        processors,
        processorsModule: EXAMPLES,
        concurrency: 8,
        log: options.log.child({ role: 'worker', workerId: `up-worker-${i}` }),
      });
      workers.push(worker);
      stops.push(() => worker.stop());
    }

    const info = { serverUrl: server.url, natsUrl, app: credentials.app };
    await writeClusterInfo(dataDir, info);
    stops.push(() => removeClusterInfo(dataDir));
    return {
      ...info,
      secret: credentials.secret,
      database: pg ? `embedded PGlite in ${join(dataDir, 'pgdata')}` : 'external Postgres',
      workerIds: workers.map((w) => w.workerId),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
