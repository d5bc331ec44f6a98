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
import {
  type DroverWorker,
  type MapContext,
  mapReduceProcessor,
  NonRetryableError,
  startWorker,
  type TaskOutcome,
} from '../src/index.js';

// reduce is not silently fed failures: a map-reduce run with a FAILED task
// ends FAILED, naming how many failed, unless its processor opts in to
// reducing partial results.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker;
const reduced: Record<string, TaskOutcome[][]> = { strict: [], partial: [] };

// The root maps 1..5; item 3 fails for good.
async function process(ctx: MapContext): Promise<string> {
  if (ctx.isRootTask) {
    await ctx.map([1, 2, 3, 4, 5], 'item');
    return 'split';
  }
  if (ctx.payload === 3) throw new NonRetryableError('item 3 is bad');
  return String(ctx.payload);
}
const sumOf = (results: TaskOutcome[]) =>
  String(
    results
      .filter((r) => r.taskName === 'item' && r.status === 'SUCCEEDED')
      .reduce((a, r) => a + Number(r.result), 0),
  );

const processors = [
  mapReduceProcessor({
    name: 'strict',
    process,
    reduce: (_ctx, results) => {
      reduced.strict?.push(results);
      return sumOf(results);
    },
  }),
  mapReduceProcessor({
    name: 'partial',
    reducePartial: true,
    process,
    reduce: (_ctx, results) => {
      reduced.partial?.push(results);
      return sumOf(results);
    },
  }),
];

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    workerId: 'reduce-1',
    processors,
    log: testLogger('reduce-1'),
  });
});
afterAll(async () => {
  await worker.stop();
  await server.stop();
});

async function run(processorName: string) {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    executeType: 'MAP_REDUCE',
    processorName,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const created = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
  const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);
  return waitForInstance(app, created.body.id, final, 30_000);
}

describe('reduce and failed tasks', () => {
  it('fails the run without calling reduce when a task failed', async () => {
    const done = await run('strict');
    expect(done.status).toBe('FAILED');
    expect(done.result).toBe('1 of 6 tasks failed; first: root.1.2: item 3 is bad');
    expect(reduced.strict).toEqual([]);
  });

  it('reduces partial results, failures included, when the processor opts in', async () => {
    const done = await run('partial');
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '12' });
    expect(reduced.partial).toHaveLength(1);
    const failed = reduced.partial?.[0]?.filter((r) => r.status === 'FAILED');
    expect(failed).toEqual([
      { taskId: 'root.1.2', taskName: 'item', status: 'FAILED', result: 'item 3 is bad' },
    ]);
  });
});
