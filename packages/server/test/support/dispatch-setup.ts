import { afterAll, beforeAll, expect } from 'vitest';
import { uniqueName, useDatabase, useNats } from '../../../../test/harness/fixtures.js';
import type { DroverServer, ServerConfigInput } from '../../src/index.js';
import { FakeWorker, type FakeWorkerOptions } from './fake-worker.js';
import { createTestApp, startTestServer, type TestApp } from './server-fixture.js';

/** One server, one app and helpers to add fake workers, create jobs and run them. */
export function useDispatchSetup(overrides: Partial<ServerConfigInput> = {}) {
  const db = useDatabase();
  const nats = useNats();
  const workers: FakeWorker[] = [];
  const setup = {
    db,
    nats,
    server: undefined as unknown as DroverServer,
    app: undefined as unknown as TestApp,
    async worker(options: Partial<FakeWorkerOptions> = {}): Promise<FakeWorker> {
      const bus = await nats.connect('worker');
      const w = await new FakeWorker(bus, {
        app: setup.app.name,
        workerId: uniqueName('w'),
        ...options,
      }).start();
      workers.push(w);
      return w;
    },
    async createJob(spec: Record<string, unknown> = {}): Promise<string> {
      const res = await setup.app.api.post(`/api/v1/apps/${setup.app.name}/jobs`, {
        name: uniqueName('job'),
        processorName: 'noop',
        timeExpressionType: 'API',
        ...spec,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id as string;
    },
    async run(jobId: string, body: Record<string, unknown> = {}): Promise<{ id: string }> {
      const res = await setup.app.api.post(
        `/api/v1/apps/${setup.app.name}/jobs/${jobId}/run`,
        body,
      );
      expect([200, 202]).toContain(res.status);
      return res.body as { id: string };
    },
  };
  beforeAll(async () => {
    setup.server = await startTestServer(db.url, overrides);
    await setup.server.ready;
    setup.app = await createTestApp(setup.server, uniqueName('app'));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.vanish()));
    await setup.server.stop();
  });
  return setup;
}
