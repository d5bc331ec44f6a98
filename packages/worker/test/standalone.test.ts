import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { natsUrl, uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, type DroverWorker, NonRetryableError, startWorker } from '../src/index.js';

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let worker: DroverWorker;
const calls: Record<string, number> = {};
// Why each 'waits' run was aborted, by instance id.
const abortReasons = new Map<string, string>();
let onTick: (() => void) | undefined;

const processors = [
  basicProcessor({
    name: 'greet',
    params: z.object({ name: z.string().min(1), times: z.number().int().positive().default(1) }),
    process: (ctx) => {
      ctx.log.info(`greeting ${ctx.params.name}`);
      return `hello ${ctx.params.name}`.repeat(ctx.params.times);
    },
  }),
  // A module of a project on zod 3: its params schema is a zod 3 one (a Standard Schema).
  basicProcessor({
    name: 'greet-zod3',
    params: z3.object({ name: z3.string().min(1), times: z3.number().int().default(2) }),
    process: (ctx) => `hi ${ctx.params.name}`.repeat(ctx.params.times),
  }),
  basicProcessor({
    name: 'flaky',
    process: (ctx) => {
      calls.flaky = (calls.flaky ?? 0) + 1;
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
      return `ok on attempt ${ctx.attempt}`;
    },
  }),
  basicProcessor({
    name: 'refuses',
    process: () => {
      calls.refuses = (calls.refuses ?? 0) + 1;
      throw new NonRetryableError('input can never work');
    },
  }),
  // A module without @drover/worker installed (drover up --processors from a
  // folder of one's own) marks it by the error's name.
  basicProcessor({
    name: 'refuses-by-name',
    process: () => {
      calls.refusesByName = (calls.refusesByName ?? 0) + 1;
      throw Object.assign(new Error('no SDK, still final'), { name: 'NonRetryableError' });
    },
  }),
  basicProcessor({
    name: 'second-run-works',
    process: (ctx) => {
      if (ctx.runAttempt < 2) throw new Error(`run ${ctx.runAttempt} fails`);
      return `run ${ctx.runAttempt}, task attempt ${ctx.attempt}`;
    },
  }),
  basicProcessor({
    // 600 lines of 3 KB (1.8 MB: past NATS's 1 MiB in one batch of 500), then one of 5 MB.
    name: 'wide-logs',
    process: (ctx) => {
      for (let i = 0; i < 600; i++) ctx.log.info(`${i} ${'w'.repeat(3_000)}`);
      ctx.log.info('x'.repeat(5_000_000));
      return 'logged';
    },
  }),
  basicProcessor({
    // Answers its abort with a value, as a processor returning what it has so far.
    name: 'returns-on-abort',
    process: (ctx) =>
      new Promise<string>((resolve) => {
        ctx.signal.addEventListener('abort', () => resolve('partial'), { once: true });
      }),
  }),
  basicProcessor({
    name: 'waits',
    process: (ctx) =>
      new Promise<string>((_resolve, reject) => {
        ctx.signal.addEventListener(
          'abort',
          () => {
            abortReasons.set(ctx.instanceId, String((ctx.signal.reason as Error)?.message));
            reject(ctx.signal.reason);
          },
          { once: true },
        );
      }),
  }),
  basicProcessor({
    name: 'tick',
    process: () => {
      calls.tick = (calls.tick ?? 0) + 1;
      onTick?.();
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
    processors,
    log: testLogger('worker'),
  });
});
afterAll(async () => {
  await worker.stop();
  await server.stop();
});

async function runJob(spec: Record<string, unknown>, body: Record<string, unknown> = {}) {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    ...spec,
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, body);
  return { jobId: job.body.id as string, id: run.body.id as string };
}

const final = (i: { status: string }) =>
  ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'].includes(i.status);

describe('standalone runs on a real worker', () => {
  it('runs a processor with validated params and ships its logs', async () => {
    const run = await runJob({ processorName: 'greet' }, { params: { name: 'Ada' } });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hello Ada',
      workerId: worker.workerId,
    });
    const logs = await app.api.get(`/api/v1/apps/${app.name}/instances/${run.id}/logs`);
    expect(logs.body.lines.map((l: { message: string }) => l.message)).toContain('greeting Ada');
  });

  it('fails a run with bad params before the processor runs, naming the field', async () => {
    const run = await runJob({ processorName: 'greet' }, { params: { name: '', times: 'twice' } });
    const done = await waitForInstance(app, run.id, final);
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(/invalid params for processor "greet": name: .*; times: /);
  });

  it('checks params with a zod 3 schema (any Standard Schema) as with a zod 4 one', async () => {
    const ok = await runJob({ processorName: 'greet-zod3' }, { params: { name: 'Bo' } });
    expect(await waitForInstance(app, ok.id, final)).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hi Bohi Bo',
    });
    const bad = await runJob({ processorName: 'greet-zod3' }, { params: { name: 3 } });
    const done = await waitForInstance(app, bad.id, final);
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(/invalid params for processor "greet-zod3": name: Expected string/);
  });

  it('retries a task under the job’s task retry policy', async () => {
    const run = await runJob({
      processorName: 'flaky',
      taskRetry: { maximumAttempts: 3, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: 'ok on attempt 3' });
    expect(calls.flaky).toBe(3);
  });

  it('does not retry a non-retryable failure', async () => {
    const run = await runJob({
      processorName: 'refuses',
      taskRetry: { maximumAttempts: 5, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({ status: 'FAILED', result: 'input can never work' });
    expect(calls.refuses).toBe(1);
  });

  it('does not retry the instance either after a NonRetryableError', async () => {
    const before = calls.refuses ?? 0;
    const run = await runJob({
      processorName: 'refuses',
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({ status: 'FAILED', result: 'input can never work', runAttempt: 1 });
    expect((calls.refuses ?? 0) - before).toBe(1);
  });

  it('takes any error named NonRetryableError as one (no SDK class needed)', async () => {
    const run = await runJob({
      processorName: 'refuses-by-name',
      taskRetry: { maximumAttempts: 5, initialIntervalMs: 10 },
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({ status: 'FAILED', result: 'no SDK, still final', runAttempt: 1 });
    expect(calls.refusesByName).toBe(1);
  });

  it('tells the processor which run of the instance it is (ctx.runAttempt)', async () => {
    const run = await runJob({
      processorName: 'second-run-works',
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: 10 },
    });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'run 2, task attempt 1',
      runAttempt: 2,
    });
  });

  it('stops a running processor through its abort signal', async () => {
    const run = await runJob({ processorName: 'waits' });
    await waitForInstance(app, run.id, (i) => i.status === 'RUNNING');
    const stopped = await app.api.post(`/api/v1/apps/${app.name}/instances/${run.id}/stop`);
    expect(stopped.body.status).toBe('STOPPED');
    expect((await waitForInstance(app, run.id, final)).status).toBe('STOPPED');
    // The server's stop_instance reached the TaskTracker (carrying the run's
    // epoch, as its fence demands), not only the reply to a later report.
    await vi.waitFor(() => expect(abortReasons.has(run.id)).toBe(true), { timeout: 10_000 });
    expect(abortReasons.get(run.id)).toBe('stopped by user');
  });

  it('times a run out and fails it', async () => {
    const run = await runJob({ processorName: 'waits', instanceTimeoutMs: 300 });
    const done = await waitForInstance(app, run.id, final);
    expect(done.status).toBe('FAILED');
    expect(`${done.result ?? ''} ${done.reason ?? ''}`).toMatch(/timed out/);
  });

  it('ships wide log lines in batches under NATS max_payload, cutting a line past the limit', async () => {
    const run = await runJob({ processorName: 'wide-logs' });
    const done = await waitForInstance(app, run.id, final);
    expect(done.status).toBe('SUCCEEDED');
    const logs = await app.api.get(`/api/v1/apps/${app.name}/instances/${run.id}/logs?limit=1000`);
    const messages = logs.body.lines.map((l: { message: string }) => l.message) as string[];
    expect(messages).toHaveLength(601);
    expect(messages.slice(0, 600).map((m) => Number(m.split(' ')[0]))).toEqual(
      Array.from({ length: 600 }, (_, i) => i),
    );
    expect(messages[600]).toMatch(/^x{65472} … \(4934528 characters cut\)$/);
  });

  it('times a run out even when its processor answers the abort with a value', async () => {
    const run = await runJob({ processorName: 'returns-on-abort', instanceTimeoutMs: 300 });
    const done = await waitForInstance(app, run.id, final);
    expect(done).toMatchObject({ status: 'FAILED', result: 'timed out after 300 ms' });
  });

  it('fires a FIXED_RATE job every interval in one long-lived run', async () => {
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('rate'),
      processorName: 'tick',
      timeExpressionType: 'FIXED_RATE',
      timeExpression: '100',
    });
    const list = async () =>
      (await app.api.get(`/api/v1/apps/${app.name}/instances?jobId=${job.body.id}`)).body
        .instances as { id: string; status: string }[];
    let instances = await list();
    while (!instances.length) {
      await new Promise((r) => setTimeout(r, 50));
      instances = await list();
    }
    // Ten firings, counted by the processor itself.
    const target = (calls.tick ?? 0) + 10;
    await new Promise<void>((resolve) => {
      onTick = () => {
        if ((calls.tick ?? 0) >= target) resolve();
      };
    });
    await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/disable`);
    expect((await list()).length).toBe(1);
    expect((await waitForInstance(app, instances[0]?.id as string, final)).status).toBe('STOPPED');
  });
});
