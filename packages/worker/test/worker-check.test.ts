import { routes } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, startWorker, WorkerRefusedError } from '../src/index.js';

// In process (as `drover up` starts its workers): a refused worker (no such
// app, or its worker id held by another live process) rejects startWorker
// instead of leaving a worker that never gets work. No secret is involved.

const db = useDatabase();
const nats = useNats();
let server: DroverServer;
let app: TestApp;
const processors = [basicProcessor({ name: 'noop', process: () => 'ok' })];
const start = (appName: string, workerId: string) =>
  startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: appName,
    workerId,
    processors,
    log: testLogger(workerId),
  });

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(() => server.stop());

describe('startWorker check', () => {
  it('rejects with WorkerRefusedError naming the app when the app does not exist', async () => {
    const started = start(uniqueName('no_such_app'), 'refused-1');
    await expect(started).rejects.toBeInstanceOf(WorkerRefusedError);
    await expect(started).rejects.toThrow(
      /refused worker refused-1 of app no_such_app.*does not exist/,
    );
  });

  it('accepts a worker of an existing app, and the same id again once it has stopped', async () => {
    const first = await start(app.name, 'accepted-1');
    await first.stop();
    const again = await start(app.name, 'accepted-1');
    await again.stop();
  });

  it('waits out a holder gone silent (killed), then starts within the dead bound + one backoff step', async () => {
    // One heartbeat of another incarnation, then silence: a process killed with -9.
    nats.bus.tell(
      routes.server.workerHeartbeat,
      { app: app.name },
      {
        app: app.name,
        workerId: 'killed-1',
        incarnation: 'killed-incarnation',
        seq: 1,
        version: 'test',
        tags: [],
        processors: ['noop'],
        startedAt: Date.now(),
        sentAt: Date.now(),
        metrics: {
          cpuLoad: 0,
          cpuCores: 1,
          memoryUsedBytes: 0,
          memoryTotalBytes: 1,
          freeSlots: 1,
          totalSlots: 1,
        },
        trackedInstances: [],
      },
    );
    await nats.nc.flush();
    const startedAt = Date.now();
    const restarted = await start(app.name, 'killed-1');
    // docs/guarantees.md: the dead bound (the test server's workerDeadMs) + one backoff step ≤ 5 s.
    expect(Date.now() - startedAt).toBeLessThanOrEqual(server.config.workerDeadMs + 5_000);
    await restarted.stop();
  }, 30_000);

  it('refuses a second process with the worker id a live one holds', async () => {
    const holder = await start(app.name, 'held-1');
    try {
      const second = start(app.name, 'held-1');
      await expect(second).rejects.toBeInstanceOf(WorkerRefusedError);
      await expect(second).rejects.toThrow(/worker id held-1 .* held by another live process/);
    } finally {
      await holder.stop();
    }
  }, 20_000);
});
