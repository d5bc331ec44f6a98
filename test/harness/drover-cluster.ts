import { inject } from 'vitest';
import { createTestApp, type TestApp } from '../../packages/server/test/support/server-fixture.js';
import { spawnDrover } from './drover-process.js';
import { uniqueName } from './fixtures.js';
import { type ReadyProcess, stopProcess } from './process.js';

export interface DroverCluster {
  server: ReadyProcess;
  app: TestApp;
  workers: Map<string, ReadyProcess>;
  /** Starts a drover-worker process running test/fixtures/processors.ts. */
  startWorker(workerId: string): Promise<ReadyProcess>;
  stop(): Promise<void>;
}

/** A real drover-server process on the test database, an app, and worker processes on demand. */
export async function startDroverCluster(databaseUrl: string): Promise<DroverCluster> {
  const natsUrl = inject('natsUrl');
  const server = await spawnDrover(
    'server',
    ['--http-port', '0'],
    { DROVER_NATS_URL: natsUrl, DROVER_DATABASE_URL: databaseUrl, DROVER_LOG_LEVEL: 'info' },
    /"msg":"server ready"/,
  );
  const url = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  const app = await createTestApp({ url }, uniqueName('app'));
  const workers = new Map<string, ReadyProcess>();
  return {
    server,
    app,
    workers,
    async startWorker(workerId) {
      const worker = await spawnDrover(
        'worker',
        ['--processors', 'test/fixtures/processors.ts', '--worker-id', workerId],
        {
          DROVER_NATS_URL: natsUrl,
          DROVER_APP: app.name,
          DROVER_APP_SECRET: app.secret,
          DROVER_LOG_LEVEL: 'info',
        },
        /"msg":"drover-worker running"/,
      );
      workers.set(workerId, worker);
      return worker;
    },
    async stop() {
      await Promise.all([...workers.values()].map((w) => stopProcess(w, 'SIGKILL')));
      await stopProcess(server);
    },
  };
}
