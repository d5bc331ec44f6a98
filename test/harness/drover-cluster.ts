import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient, readyzUntil } from '../../packages/server/test/support/api-client.js';
import {
  createTestApp,
  TEST_ADMIN_TOKEN,
  type TestApp,
} from '../../packages/server/test/support/server-fixture.js';
import { type AuthorizedNats, startAuthorizedNats } from './authorized-nats.js';
import { spawnDrover } from './drover-process.js';
import { uniqueName } from './fixtures.js';
import { type ReadyProcess, stopProcess } from './process.js';

/** An app of the cluster, with the file holding its workers' nkey seed (from `POST /apps`). */
export interface ClusterApp extends TestApp {
  workerSeedFile: string;
}

export interface DroverCluster {
  /** The cluster's nats-server, which requires authentication (the server manages its users). */
  nats: AuthorizedNats;
  /** The current server process (replaced by `restartServer`). */
  server: ReadyProcess;
  /** The server's HTTP API (the same port across restarts). */
  serverUrl: string;
  app: ClusterApp;
  workers: Map<string, ReadyProcess>;
  /** Creates another app (its worker key is written to a seed file). */
  createApp(name: string): Promise<ClusterApp>;
  /**
   * Starts a drover-worker process running test/fixtures/processors.ts, for the
   * cluster's app unless `options.app` names another.
   */
  startWorker(workerId: string, args?: string[], options?: WorkerOptions): Promise<ReadyProcess>;
  /** Starts the server again on the same port (after a kill), waiting until it is ready. */
  restartServer(): Promise<ReadyProcess>;
  /**
   * Starts another server process on the same database and NATS, on a port of
   * its own, waiting until it is ready; stopped with the cluster.
   */
  startServer(): Promise<ClusterServer>;
  /**
   * Resolves once the server counts exactly `count` live workers (a run's
   * task workers are those alive when it is dispatched).
   */
  untilWorkersAlive(count: number): Promise<void>;
  /** Creates an API-triggered job from `spec` and runs it with `body`: the new instance. */
  run(spec: Record<string, unknown>, body?: Record<string, unknown>): Promise<any>;
  stop(): Promise<void>;
}

/** A server process started by `startServer`. */
export interface ClusterServer {
  process: ReadyProcess;
  url: string;
  /** The cluster's app on this server's API. */
  api: ApiClient;
}

export interface WorkerOptions {
  app?: ClusterApp;
  /** More environment for the process (e.g. a fake clock's). */
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself, before the worker's entry (e.g. a V8 flag). */
  nodeArgs?: string[];
}

export interface ClusterOptions {
  /** A NATS the test owns (e.g. restarts); default: one of the cluster's own, stopped with it. */
  nats?: AuthorizedNats;
  /** Called once the server process listens, before it is ready (e.g. while Postgres is away). */
  onListening?: (server: ReadyProcess, url: string) => void;
  /** Workers to start (with `workerArgs`), waiting until the server counts them all alive. */
  workers?: string[];
  workerArgs?: string[];
  /** More environment for the server process (e.g. a fake clock's). */
  serverEnv?: NodeJS.ProcessEnv;
}

/** drover-server's NATS flags, as in production: its own key, and the authorization it writes and reloads. */
export const serverNatsArgs = (nats: AuthorizedNats) => [
  '--nats-nkey-file',
  nats.serverSeedFile,
  '--nats-auth-file',
  nats.authFile,
  '--nats-pid-file',
  nats.pidFile,
];

/** A real drover-server process on the test database, an app, and worker processes on demand. */
export async function startDroverCluster(
  databaseUrl: string,
  options: ClusterOptions = {},
): Promise<DroverCluster> {
  const nats = options.nats ?? (await startAuthorizedNats());
  const natsUrl = nats.url;
  const serverEnv = {
    DROVER_NATS_URL: natsUrl,
    DROVER_DATABASE_URL: databaseUrl,
    DROVER_LOG_LEVEL: 'info',
    DROVER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...options.serverEnv,
  };
  const startServer = async (port: string) => {
    const started = await spawnDrover(
      'server',
      ['--http-port', port, ...serverNatsArgs(nats)],
      serverEnv,
      /"msg":"drover-server listening"/,
    );
    const listening = started.find(/"http":"(http:\/\/[^"]+)"/) as string;
    options.onListening?.(started, listening);
    await readyzUntil(new ApiClient(listening), true);
    return started;
  };
  const server = await startServer('0').catch(async (err: unknown) => {
    if (!options.nats) await nats.stop();
    throw err;
  });
  const url = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  const createApp = async (name: string): Promise<ClusterApp> => {
    const created = await createTestApp({ url }, name);
    const workerSeedFile = join(nats.dir, `worker-${name}.nk`);
    await writeFile(workerSeedFile, created.workerKey.seed, { mode: 0o600 });
    return { ...created, workerSeedFile };
  };
  const app = await createApp(uniqueName('app'));
  const workers = new Map<string, ReadyProcess>();
  const moreServers: ReadyProcess[] = [];
  const cluster: DroverCluster = {
    nats,
    server,
    serverUrl: url,
    app,
    workers,
    createApp,
    async startWorker(workerId, args = [], { app: workerApp = app, env = {}, nodeArgs } = {}) {
      const worker = await spawnDrover(
        'worker',
        ['--processors', 'test/fixtures/processors.ts', '--worker-id', workerId, ...args],
        {
          DROVER_WORKER_ID: workerId,
          DROVER_NATS_URL: natsUrl,
          DROVER_APP: workerApp.name,
          DROVER_NATS_NKEY_FILE: workerApp.workerSeedFile,
          DROVER_LOG_LEVEL: 'info',
          ...env,
        },
        /"msg":"drover-worker running"/,
        nodeArgs,
      );
      workers.set(workerId, worker);
      return worker;
    },
    async restartServer() {
      await stopProcess(cluster.server, 'SIGKILL');
      cluster.server = await startServer(new URL(url).port);
      return cluster.server;
    },
    async startServer() {
      const started = await startServer('0');
      moreServers.push(started);
      const serverUrl = started.find(/"http":"(http:\/\/[^"]+)"/) as string;
      return { process: started, url: serverUrl, api: new ApiClient(serverUrl, app.secret) };
    },
    async untilWorkersAlive(count) {
      for (;;) {
        const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
        if (res.body.workers.filter((w: { alive: boolean }) => w.alive).length === count) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async run(spec, body = {}) {
      const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
        name: uniqueName('job'),
        timeExpressionType: 'API',
        ...spec,
      });
      const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, body);
      return run.body;
    },
    async stop() {
      await Promise.all([...workers.values()].map((w) => stopProcess(w, 'SIGKILL')));
      await Promise.all([cluster.server, ...moreServers].map((s) => stopProcess(s)));
      if (!options.nats) await nats.stop();
    },
  };
  if (options.workers?.length) {
    const { workers: ids, workerArgs } = options;
    // A worker that fails to start fails the cluster: nothing of it is left running.
    const started = await Promise.allSettled(ids.map((id) => cluster.startWorker(id, workerArgs)));
    const failed = started.find((s) => s.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      await cluster.untilWorkersAlive(ids.length);
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      throw err;
    }
  }
  return cluster;
}

/** The `slow-sum` map-reduce (200 leaves of 50 ms each) and the result that counts each leaf once. */
export const SLOW_SUM = {
  processorName: 'slow-sum',
  executeType: 'MAP_REDUCE',
  concurrencyPerWorker: 2,
} as const;
export const SLOW_SUM_RESULT = '200 leaves, sum 200010000';

/** Waits until a worker has logged a leaf for this run (logs are the event we can see). */
export async function untilLeafLoggedBy(
  app: TestApp,
  instanceId: string,
  predicate: (workerId: string) => boolean,
): Promise<string> {
  const until = Date.now() + 30_000;
  for (;;) {
    const res = await app.api.get(
      `/api/v1/apps/${app.name}/instances/${instanceId}/logs?limit=1000`,
    );
    const lines = res.body.lines as { message: string; workerId: string }[];
    for (const line of lines) {
      if (line.message.startsWith('leaf') && predicate(line.workerId)) return line.workerId;
    }
    if (Date.now() > until) {
      const instance = await app.api.get(`/api/v1/apps/${app.name}/instances/${instanceId}`);
      throw new Error(
        `no matching leaf logged; ${lines.length} lines; ${JSON.stringify(instance.body)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
