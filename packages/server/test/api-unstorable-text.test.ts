import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// Postgres text and jsonb cannot hold NUL, and a lone UTF-16 surrogate is not
// text at all: such input is refused at the edge with a 400 naming the field,
// instead of failing in the database with a 500.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let jobs: string;

const NUL = 'a\u0000b';
const LONE = 'a\ud800b';
const job = {
  name: 'text',
  processorName: 'noop',
  timeExpressionType: 'API',
};

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  jobs = `/api/v1/apps/${app.name}/jobs`;
});
afterAll(() => server.stop());

function paths(body: { error: { issues?: { path: string }[] } }): string[] {
  return (body.error.issues ?? []).map((i) => i.path).sort();
}

describe('text Postgres cannot store', () => {
  it.each([
    ['NUL', NUL],
    ['a lone surrogate', LONE],
  ])('refuses %s in job fields, naming each', async (_what, bad) => {
    const res = await app.api.post(jobs, {
      ...job,
      name: bad,
      description: bad,
      jobParams: { ok: 'fine', nested: [{ deep: bad }], [`key${bad}`]: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_INPUT');
    expect(paths(res.body)).toEqual([
      'body.description',
      `body.jobParams.key${bad}`,
      'body.jobParams.nested[0].deep',
      'body.name',
    ]);
  });

  it.each([
    ['NUL', NUL],
    ['a lone surrogate', LONE],
  ])('refuses %s in run params and idempotency keys', async (_what, bad) => {
    const created = await app.api.post(jobs, { ...job, name: uniqueName('job') });
    expect(created.status).toBe(201);
    const run = `${jobs}/${created.body.id}/run`;
    const params = await app.api.post(run, { params: { list: ['x', bad] } });
    expect(params.status).toBe(400);
    expect(paths(params.body)).toEqual(['body.params.list[1]']);
    const key = await app.api.post(run, { idempotencyKey: bad });
    expect(key.status).toBe(400);
    expect(paths(key.body)).toEqual(['body.idempotencyKey']);
    // A replaced job is checked alike.
    const replaced = await app.api.put(`${jobs}/${created.body.id}`, {
      ...job,
      processorName: bad,
    });
    expect(replaced.status).toBe(400);
    expect(paths(replaced.body)).toEqual(['body.processorName']);
  });

  it('keeps text Postgres can store: other control characters and paired surrogates', async () => {
    const text = 'tab\there, emoji \ud83d\ude00, bell \u0007';
    const created = await app.api.post(jobs, {
      ...job,
      name: uniqueName('job'),
      description: text,
      jobParams: { text },
    });
    expect(created.status).toBe(201);
    expect(created.body.spec.description).toBe(text);
    expect(created.body.spec.jobParams).toEqual({ text });
  });
});
