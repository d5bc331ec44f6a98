import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { ApiClient } from './support/api-client.js';
import {
  createTestApp,
  startTestServer,
  TEST_ADMIN_TOKEN,
  type TestApp,
} from './support/server-fixture.js';

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let jobs: string;

const cronJob = {
  name: 'tick',
  processorName: 'noop',
  timeExpressionType: 'CRON',
  timeExpression: '*/10 * * * * *',
};

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  jobs = `/api/v1/apps/${app.name}/jobs`;
});
afterAll(() => server.stop());

describe('apps', () => {
  it('refuses a taken name, a bad name and a short secret', async () => {
    const admin = new ApiClient(server.url, TEST_ADMIN_TOKEN);
    expect(
      (await admin.post('/api/v1/apps', { name: app.name, secret: 'another-long-secret' })).status,
    ).toBe(409);
    const bad = await admin.post('/api/v1/apps', { name: 'has.dot', secret: 'short' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'body.name',
      'body.secret',
    ]);
  });

  it('are created only with the admin token', async () => {
    const body = { name: uniqueName('app'), secret: 'a-long-enough-secret' };
    for (const client of [new ApiClient(server.url), new ApiClient(server.url, app.secret)]) {
      const refused = await client.post('/api/v1/apps', body);
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toMatch(/admin token/);
    }
    // Not even the body is judged without it.
    expect((await new ApiClient(server.url).post('/api/v1/apps', { name: 'x' })).status).toBe(401);
    expect(
      (await new ApiClient(server.url, TEST_ADMIN_TOKEN).post('/api/v1/apps', body)).status,
    ).toBe(201);
  });

  it('cannot be created at all on a server without an admin token', async () => {
    const open = await startTestServer(db.url, { adminToken: undefined });
    try {
      await open.ready;
      for (const token of [undefined, TEST_ADMIN_TOKEN, 'anything-at-all-here']) {
        const res = await new ApiClient(open.url, token).post('/api/v1/apps', {
          name: uniqueName('app'),
          secret: 'a-long-enough-secret',
        });
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({
          code: 'FORBIDDEN',
          message: expect.stringContaining('DROVER_ADMIN_TOKEN'),
        });
      }
    } finally {
      await open.stop();
    }
  });

  it('needs the app secret', async () => {
    const none = await new ApiClient(server.url).get(jobs);
    expect(none.status).toBe(401);
    const wrong = await new ApiClient(server.url, 'not-the-secret').get(jobs);
    expect(wrong.status).toBe(401);
    const other = await new ApiClient(server.url, app.secret).get('/api/v1/apps/someone_else/jobs');
    expect(other.status).toBe(401);
    expect((await app.api.get(`/api/v1/apps/${app.name}`)).body.name).toBe(app.name);
  });
});

describe('jobs', () => {
  it('creates a job with defaults and shows its next 5 fire times', async () => {
    const created = await app.api.post(jobs, cronJob);
    expect(created.status).toBe(201);
    expect(created.body.spec).toMatchObject({
      name: 'tick',
      executeType: 'STANDALONE',
      timeZone: 'UTC',
    });
    expect(created.body.nextTriggerAt).toBeGreaterThan(Date.now() - 1_000);
    const shown = await app.api.get(`${jobs}/${created.body.id}`);
    expect(shown.body.nextTriggers).toHaveLength(5);
    const gaps = shown.body.nextTriggers
      .slice(1)
      .map((t: number, i: number) => t - shown.body.nextTriggers[i]);
    expect(gaps).toEqual([10_000, 10_000, 10_000, 10_000]);
  });

  it('takes every PowerJob option', async () => {
    const full = {
      name: 'full',
      description: 'all options',
      jobParams: { region: 'eu', sizes: [1, 2] },
      timeExpressionType: 'CRON',
      timeExpression: '0 0 3 * * *',
      timeZone: 'Asia/Tokyo',
      executeType: 'MAP_REDUCE',
      processorName: 'wordcount',
      maxConcurrentInstances: 2,
      concurrencyOverflow: 'FAIL',
      concurrencyPerWorker: 8,
      instanceTimeoutMs: 60_000,
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 500 },
      taskRetry: { maximumAttempts: 5, backoffCoefficient: 3 },
      designatedWorkers: ['w1'],
      tags: ['ssd'],
      dispatchStrategy: 'SPECIFY',
      minCpuCores: 2,
      minMemoryMb: 512,
      maxWorkerCount: 4,
      lifecycle: { start: '2026-01-01T00:00:00Z', end: '2099-01-01T00:00:00Z' },
      logLevel: 'debug',
      enabled: false,
    };
    const res = await app.api.post(jobs, full);
    expect(res.status).toBe(201);
    expect(res.body.spec).toMatchObject({
      ...full,
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 500, backoffCoefficient: 2 },
    });
    expect(res.body.enabled).toBe(false);
    expect(res.body.nextTriggerAt).toBeNull();
  });

  it('answers bad input with 400 naming each field, and saves nothing', async () => {
    const before = (await app.api.get(`${jobs}?limit=1000`)).body.jobs.length;
    const res = await app.api.post(jobs, {
      name: '',
      processorName: 'p',
      timeExpressionType: 'CRON',
      timeExpression: 'every minute',
      executeType: 'SOMETIMES',
      maxConcurrentInstances: -1,
      instanceRetry: { maximumAttempts: 0 },
      colour: 'red',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_INPUT');
    const paths = res.body.error.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'body.name',
        'body.executeType',
        'body.maxConcurrentInstances',
        'body.instanceRetry.maximumAttempts',
      ]),
    );
    expect(res.body.error.message).toMatch(/colour/);
    expect((await app.api.get(`${jobs}?limit=1000`)).body.jobs.length).toBe(before);
  });

  it('checks the expression against its type, naming timeExpression', async () => {
    for (const bad of [
      { timeExpressionType: 'FIXED_RATE', timeExpression: '50' },
      { timeExpressionType: 'ONE_SHOT', timeExpression: 'later' },
      { timeExpressionType: 'CRON' },
    ]) {
      const res = await app.api.post(jobs, { name: uniqueName('j'), processorName: 'p', ...bad });
      expect(res.status).toBe(400);
      expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain(
        'body.timeExpression',
      );
    }
  });

  it('refuses an enabled schedule that would never fire, naming the field, and saves nothing', async () => {
    const before = (await app.api.get(`${jobs}?limit=1000`)).body.jobs.length;
    const past = '2020-01-01T00:00:00Z';
    for (const [bad, path] of [
      [{ timeExpressionType: 'ONE_SHOT', timeExpression: past }, 'body.timeExpression'],
      [{ timeExpressionType: 'ONE_SHOT', timeExpression: '0' }, 'body.timeExpression'],
      [{ timeExpressionType: 'CRON', timeExpression: '0 0 0 1 1 * 2020' }, 'body.timeExpression'],
      [
        { timeExpressionType: 'CRON', timeExpression: '* * * * * *', lifecycle: { end: past } },
        'body.lifecycle.end',
      ],
      [
        {
          timeExpressionType: 'ONE_SHOT',
          timeExpression: '3000-01-01T00:00:00Z',
          lifecycle: { start: '3000-06-01T00:00:00Z' },
        },
        'body.lifecycle.start',
      ],
      [
        {
          timeExpressionType: 'ONE_SHOT',
          timeExpression: '3000-01-01T00:00:00Z',
          lifecycle: { end: '2999-01-01T00:00:00Z' },
        },
        'body.lifecycle.end',
      ],
    ] as const) {
      const res = await app.api.post(jobs, { name: uniqueName('j'), processorName: 'p', ...bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.issues).toEqual([
        { path, message: expect.stringMatching(/^the job would never fire: /) },
      ]);
    }
    expect((await app.api.get(`${jobs}?limit=1000`)).body.jobs.length).toBe(before);
    // Disabled, it is kept as written (a draft), and cannot be enabled by a replace.
    const draft = { name: uniqueName('j'), processorName: 'p', timeExpressionType: 'ONE_SHOT' };
    const kept = await app.api.post(jobs, { ...draft, timeExpression: past, enabled: false });
    expect(kept.status).toBe(201);
    const enabling = await app.api.put(`${jobs}/${kept.body.id}`, {
      ...draft,
      timeExpression: '2021-01-01T00:00:00Z',
    });
    expect(enabling.status).toBe(400);
    expect((await app.api.get(`${jobs}/${kept.body.id}`)).body.spec.enabled).toBe(false);
  });

  it('replaces, enables, disables, lists with paging and deletes', async () => {
    const a = (await app.api.post(jobs, { ...cronJob, name: 'a' })).body;
    const b = (await app.api.post(jobs, { ...cronJob, name: 'b' })).body;
    const replaced = await app.api.put(`${jobs}/${a.id}`, {
      ...cronJob,
      name: 'a',
      timeExpression: '0 * * * * *',
    });
    expect(replaced.body.spec.timeExpression).toBe('0 * * * * *');
    // A failed replace leaves the job as it was.
    const badReplace = await app.api.put(`${jobs}/${a.id}`, {
      ...cronJob,
      name: 'a',
      timeExpression: 'nope',
    });
    expect(badReplace.status).toBe(400);
    expect((await app.api.get(`${jobs}/${a.id}`)).body.spec.timeExpression).toBe('0 * * * * *');
    expect((await app.api.put(`${jobs}/${a.id}`, { ...cronJob, name: 'b' })).status).toBe(409);

    const disabled = await app.api.post(`${jobs}/${a.id}/disable`);
    expect(disabled.body).toMatchObject({ enabled: false, nextTriggerAt: null });
    const enabled = await app.api.post(`${jobs}/${a.id}/enable`);
    expect(enabled.body.enabled).toBe(true);
    expect(enabled.body.nextTriggerAt).not.toBeNull();

    const page1 = await app.api.get(`${jobs}?limit=1`);
    expect(page1.body.jobs).toHaveLength(1);
    const page2 = await app.api.get(`${jobs}?limit=1&after=${page1.body.next}`);
    expect(page2.body.jobs[0].id).not.toBe(page1.body.jobs[0].id);

    expect((await app.api.delete(`${jobs}/${b.id}`)).status).toBe(204);
    expect((await app.api.get(`${jobs}/${b.id}`)).status).toBe(404);
    expect((await app.api.delete(`${jobs}/${b.id}`)).status).toBe(404);
  });

  it('previews a spec without saving it', async () => {
    const res = await app.api.post(`${jobs}/preview`, {
      ...cronJob,
      name: 'preview-only',
      timeExpressionType: 'FIXED_RATE',
      timeExpression: '250',
    });
    expect(res.status).toBe(200);
    expect(res.body.times).toHaveLength(5);
    expect(res.body.times[1] - res.body.times[0]).toBe(250);
  });

  it('answers 400 for bad path and query parameters on every route', async () => {
    const instances = `/api/v1/apps/${app.name}/instances`;
    const cases: [string, string, unknown?][] = [
      ['GET', `${jobs}/abc`],
      ['PUT', `${jobs}/abc`, cronJob],
      ['DELETE', `${jobs}/abc`],
      ['POST', `${jobs}/abc/enable`],
      ['POST', `${jobs}/abc/run`],
      ['GET', `${jobs}?limit=0`],
      ['GET', `${instances}?status=SOMETIMES`],
      ['GET', `${instances}/x1`],
      ['POST', `${instances}/x1/stop`],
      ['POST', `${instances}/x1/cancel`],
      ['POST', `${instances}/x1/retry`],
      ['GET', `${instances}/1/logs?limit=100000`],
    ];
    for (const [method, path, body] of cases) {
      const res = await app.api.call(
        method,
        path,
        body ?? (method === 'GET' || method === 'DELETE' ? undefined : {}),
      );
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error.issues.length, `${method} ${path}`).toBeGreaterThan(0);
    }
    const run = await app.api.post(`${jobs}/1/run`, { delayMs: -5, extra: true });
    expect(run.status).toBe(400);
    expect(run.body.error.issues.map((i: { path: string }) => i.path)).toContain('body.delayMs');
  });

  it('publishes an OpenAPI document', async () => {
    const res = await new ApiClient(server.url).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/apps/{app}/jobs',
        '/api/v1/apps/{app}/instances/{instanceId}/logs',
      ]),
    );
  });
});
