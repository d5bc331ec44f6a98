import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
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
  broadcastProcessor,
  type DroverWorker,
  mapProcessor,
  mapReduceProcessor,
  type Processor,
  startWorker,
} from '../src/index.js';

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
const workers: DroverWorker[] = [];
const leafRuns = new Map<string, number>();
let flakyFailures = 0;

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

const processors: Processor[] = [
  // Root splits 1..10,000 into 10 chunks; each chunk maps 10 leaves of 100 numbers.
  mapReduceProcessor({
    name: 'sum',
    process: async (ctx) => {
      if (ctx.isRootTask) {
        await ctx.map(
          range(0, 10).map((c) => ({ from: c * 1_000 + 1 })),
          'chunk',
        );
        return 'split';
      }
      if (ctx.taskName === 'chunk') {
        const { from } = ctx.payload as { from: number };
        await ctx.map(
          range(0, 10).map((l) => ({ from: from + l * 100, count: 100 })),
          'leaf',
        );
        return 'chunked';
      }
      const { from, count } = ctx.payload as { from: number; count: number };
      leafRuns.set(ctx.taskId, (leafRuns.get(ctx.taskId) ?? 0) + 1);
      return String(range(from, count).reduce((a, b) => a + b, 0));
    },
    reduce: (_ctx, results) => {
      const leaves = results.filter((r) => r.taskName === 'leaf');
      const sum = leaves.reduce((a, r) => a + Number(r.result), 0);
      return `${leaves.length} leaves, sum ${sum}`;
    },
  }),
  mapProcessor({
    name: 'fanout',
    process: async (ctx) => {
      if (ctx.isRootTask) await ctx.map(range(0, 50), 'item');
      else if (ctx.payload === 7 && ctx.attempt === 1) {
        flakyFailures++;
        throw new Error('item 7 fails once');
      }
      return 'ok';
    },
  }),
  mapProcessor({
    name: 'stuck',
    process: async (ctx) => {
      if (ctx.isRootTask) {
        await ctx.map(range(0, 4), 'waiter');
        return 'split';
      }
      // Leaves wait until the run is stopped or times out.
      return new Promise<string>((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    },
  }),
  // No params given: the schema's defaults, on the TaskTracker and in every task.
  mapReduceProcessor({
    name: 'defaults',
    params: z.object({ word: z.string().default('hi') }),
    process: async (ctx) => {
      if (ctx.isRootTask) await ctx.map(range(0, 4), 'item');
      return ctx.params.word;
    },
    reduce: (ctx, results) => `${ctx.params.word}: ${results.map((r) => r.result).join(',')}`,
  }),
  broadcastProcessor({
    name: 'everywhere',
    preProcess: () => 'prepared',
    process: (ctx) => `ran on ${ctx.taskId}`,
    postProcess: (_ctx, results) =>
      results
        .map((r) => r.result)
        .sort()
        .join(', '),
  }),
];

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  for (const id of ['mr-a', 'mr-b']) {
    workers.push(
      await startWorker({
        natsUrl: natsUrl(),
        insecureNats: true, // the suite's shared NATS has no authentication
        app: app.name,
        workerId: id,
        processors,
        log: testLogger(id),
      }),
    );
  }
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await server.stop();
});

async function runJob(spec: Record<string, unknown>) {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    ...spec,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
  return run.body.id as string;
}

const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

describe('map, map-reduce and broadcast across two workers', () => {
  it('sums 1..10,000 with nested maps, counting every leaf once', async () => {
    const id = await runJob({
      processorName: 'sum',
      executeType: 'MAP_REDUCE',
      concurrencyPerWorker: 4,
    });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '100 leaves, sum 50005000' });
    expect(done.progress).toMatchObject({ total: 111, succeeded: 111, failed: 0 });
    expect([...leafRuns.values()].every((n) => n === 1)).toBe(true);
    expect(leafRuns.size).toBe(100);
  });

  it('retries a failed map task and succeeds', async () => {
    const id = await runJob({
      processorName: 'fanout',
      executeType: 'MAP',
      taskRetry: { maximumAttempts: 2, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: '51 tasks succeeded' });
    expect(flakyFailures).toBe(1);
  });

  it('fails a map run whose task keeps failing, naming it', async () => {
    flakyFailures = 0;
    const id = await runJob({ processorName: 'fanout', executeType: 'MAP' });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(/1 of 51 tasks failed; first: root\.1\.7: item 7 fails once/);
  });

  it("gives a run with no params its schema's defaults, in every task", async () => {
    const id = await runJob({
      processorName: 'defaults',
      executeType: 'MAP_REDUCE',
      concurrencyPerWorker: 2,
    });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: 'hi: hi,hi,hi,hi,hi' });
  });

  it('broadcasts to every worker, between preProcess and postProcess', async () => {
    const id = await runJob({ processorName: 'everywhere', executeType: 'BROADCAST' });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'ran on broadcast.mr-a, ran on broadcast.mr-b',
    });
  });

  it('stops a map run and its ProcessorTrackers', async () => {
    const id = await runJob({ processorName: 'stuck', executeType: 'MAP' });
    await waitForInstance(app, id, (i) => i.status === 'RUNNING');
    const stopped = await app.api.post(`/api/v1/apps/${app.name}/instances/${id}/stop`);
    expect(stopped.body.status).toBe('STOPPED');
    expect((await waitForInstance(app, id, final)).status).toBe('STOPPED');
  });

  it('times a map run out', async () => {
    const id = await runJob({ processorName: 'stuck', executeType: 'MAP', instanceTimeoutMs: 500 });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done.status).toBe('FAILED');
    expect(`${done.result ?? ''} ${done.reason ?? ''}`).toMatch(/timed out/);
  });

  it('fails at once when the processor does not fit the execute type', async () => {
    const id = await runJob({ processorName: 'fanout', executeType: 'MAP_REDUCE' });
    const done = await waitForInstance(app, id, final, 30_000);
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(/"fanout" is a map processor; MAP_REDUCE needs mapReduce/);
  });
});
