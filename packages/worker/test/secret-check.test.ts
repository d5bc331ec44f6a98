import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, startWorker, WorkerRefusedError } from '../src/index.js';

// In process (as `drover up` starts its workers): a refused secret rejects
// startWorker instead of leaving a worker that never gets work.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
const processors = [basicProcessor({ name: 'noop', process: () => 'ok' })];

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(() => server.stop());

describe('startWorker secret check', () => {
  it('rejects with WorkerRefusedError naming the app when the secret is wrong', async () => {
    const started = startWorker({
      natsUrl: inject('natsUrl'),
      insecureNats: true, // the suite's shared NATS has no authentication
      app: app.name,
      secret: 'not-the-secret-of-this-app',
      workerId: 'refused-1',
      processors,
      log: testLogger('worker'),
    });
    await expect(started).rejects.toBeInstanceOf(WorkerRefusedError);
    await expect(started).rejects.toThrow(`refused worker refused-1 of app ${app.name}`);
  });

  it('resolves with the right secret', async () => {
    const worker = await startWorker({
      natsUrl: inject('natsUrl'),
      insecureNats: true, // the suite's shared NATS has no authentication
      app: app.name,
      secret: app.secret,
      workerId: 'accepted-1',
      processors,
      log: testLogger('worker'),
    });
    await worker.stop();
  });
});
