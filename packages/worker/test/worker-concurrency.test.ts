import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, type DroverWorker, mapProcessor, startWorker } from '../src/index.js';

// A worker's concurrency caps the standalone runs it holds: at its cap it
// refuses run_job, and the server dispatches the run when a slot frees.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker;
let active = 0;
let maxActive = 0;
let release: () => void = () => {};
const released = new Promise<void>((resolve) => {
  release = resolve;
});

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    concurrency: 1,
    processors: [
      basicProcessor({
        name: 'holds',
        process: async () => {
          maxActive = Math.max(maxActive, ++active);
          await released;
          active--;
          return 'done';
        },
      }),
      mapProcessor({
        name: 'fans-out',
        process: async (ctx) => {
          if (ctx.isRootTask) await ctx.map([1, 2, 3, 4], 'leaf');
          return 'ok';
        },
      }),
    ],
    log: testLogger('worker'),
  });
});
afterAll(async () => {
  release();
  await worker.stop();
  await server.stop();
});

async function runJob(spec: Record<string, unknown>): Promise<string> {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    ...spec,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
  return run.body.id as string;
}

describe('a worker with concurrency 1', () => {
  it('holds one standalone run at a time, and runs the others as slots free', async () => {
    const ids = [
      await runJob({ processorName: 'holds' }),
      await runJob({ processorName: 'holds' }),
      await runJob({ processorName: 'holds' }),
    ];
    // The worker refuses the runs beyond its cap (or, without the cap, runs them all).
    for (const id of ids) {
      await waitForInstance(
        app,
        id,
        (i) => i.status === 'RUNNING' || /at capacity/.test(String(i.reason)) || maxActive > 1,
      );
    }
    expect(maxActive).toBe(1);

    // Map tasks are capped by the job's concurrencyPerWorker, not by the held slot.
    const map = await runJob({ processorName: 'fans-out', executeType: 'MAP' });
    expect((await waitForInstance(app, map, (i) => i.status === 'SUCCEEDED')).result).toMatch(
      /5 tasks succeeded/,
    );

    release();
    for (const id of ids) await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
    expect(maxActive).toBe(1);
  });
});
