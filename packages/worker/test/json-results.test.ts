import { fileURLToPath } from 'node:url';
import { apiViews } from '@drover/protocol';
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
import { type DroverWorker, startWorker } from '../src/index.js';
import { JSON_RESULTS, processors } from './fixtures/json-processors.js';

// A processor's result is any JSON value: it reaches the API answer as that
// value, from a processor on the worker's main thread and from one in a
// processor thread alike. A result that is not JSON fails its run naming the
// problem (the worker and its threads carry on), and a map processor's
// payload schema (zod 4 or zod 3, as Standard Schema) fails a task whose
// payload it rejects, naming the issue.

const MODULE = fileURLToPath(new URL('./fixtures/json-processors.ts', import.meta.url));
// Threads inherit this process's flags; the test runner's --expose-gc is not one a thread takes.
process.execArgv = process.execArgv.filter((flag) => flag !== '--expose-gc');

const db = useDatabase();
let server: DroverServer;
const workers: DroverWorker[] = [];

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await server.stop();
});

const final = (i: { status: string }) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(i.status);

describe.each([
  ['on the main thread', {}],
  ['in processor threads', { processorsModule: MODULE, threads: 2 }],
])('JSON results %s', (where, options) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await createTestApp(server, uniqueName('app'));
    workers.push(
      await startWorker({
        natsUrl: natsUrl(),
        insecureNats: true, // the suite's shared NATS has no authentication
        app: app.name,
        workerId: uniqueName('json'),
        processors,
        log: testLogger(where),
        ...options,
      }),
    );
  });

  /** Runs `processorName` once with `params` and answers the final instance, as the API answers it. */
  async function runOnce(processorName: string, params: unknown, executeType = 'STANDALONE') {
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName,
      executeType,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {
      params,
    });
    expect(run.status, JSON.stringify(run.body)).toBeLessThan(300);
    const done = await waitForInstance(app, run.body.id, final, 30_000);
    // What a client reads: the answer fits the API's view.
    return apiViews.InstanceView.parse(done);
  }

  it.each(Object.keys(JSON_RESULTS))('answers a %s result as that JSON value', async (kind) => {
    const done = await runOnce('json-result', { kind });
    expect(done.status).toBe('SUCCEEDED');
    expect(done.result).toStrictEqual(JSON_RESULTS[kind]);
  });

  it('answers null for a processor that returns nothing', async () => {
    const done = await runOnce('json-result', { kind: 'nothing' });
    expect(done).toMatchObject({ status: 'SUCCEEDED', result: null });
  });

  it.each([
    ['function', /^result is not JSON: result\.callback is a function$/],
    ['bigint', /^result is not JSON: result\.count is a BigInt \(10n\); return it as a string$/],
    ['cycle', /^result is not JSON: result\.self refers back to itself \(a cycle\)$/],
    ['nan', /^result is not JSON: result\[1\] is NaN$/],
    ['undefined', /^result is not JSON: result\.a\.b is undefined; use null or leave the key out$/],
    ['date', /^result is not JSON: result\.at is a Date, not a plain object$/],
  ])('fails a run whose result holds a %s, naming it', async (kind, reason) => {
    const done = await runOnce('non-json-result', { kind });
    expect(done.status).toBe('FAILED');
    expect(done.result).toMatch(reason);
    // The worker (and its thread) carry on.
    expect(await runOnce('json-result', { kind: 'number' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 42.5,
    });
  });

  it.each(['typed-sum-zod4', 'typed-sum-zod3'])(
    'reduces typed map payloads checked by %s into a JSON object',
    async (name) => {
      const done = await runOnce(name, {}, 'MAP_REDUCE');
      expect(done).toMatchObject({
        status: 'SUCCEEDED',
        result: { total: 60, items: [10, 20, 30] },
      });
    },
  );

  it.each(['typed-sum-zod4', 'typed-sum-zod3'])(
    'fails the task whose payload %s rejects, naming the issue',
    async (name) => {
      const done = await runOnce(name, { bad: true }, 'MAP_REDUCE');
      expect(done.status).toBe('FAILED');
      expect(done.result).toMatch(
        new RegExp(
          `1 of 4 tasks failed; first: root\\.1\\.2: invalid payload for task root\\.1\\.2 of processor "${name}": payload\\.n: .*number`,
        ),
      );
    },
  );
});
