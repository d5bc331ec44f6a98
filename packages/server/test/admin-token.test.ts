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

// The admin token (an operator's console) lists every app and works on every
// app's routes; an app's secret stays confined to its own app.

const db = useDatabase();
let server: DroverServer;
let a: TestApp;
let b: TestApp;
let admin: ApiClient;
let anonymous: ApiClient;

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  a = await createTestApp(server, uniqueName('a'));
  b = await createTestApp(server, uniqueName('b'));
  admin = new ApiClient(server.url, TEST_ADMIN_TOKEN);
  anonymous = new ApiClient(server.url);
});
afterAll(() => server.stop());

describe('GET /api/v1/apps', () => {
  it('lists every app by name for the admin token', async () => {
    const res = await admin.get('/api/v1/apps');
    expect(res.status).toBe(200);
    const names = res.body.apps.map((app: { name: string }) => app.name);
    expect(names).toEqual(expect.arrayContaining([a.name, b.name]));
    expect(names).toEqual([...names].sort());
    expect(res.body.apps.find((app: { name: string }) => app.name === a.name)).toEqual({
      name: a.name,
      createdAt: expect.any(Number),
    });
  });

  it('refuses no token, a wrong one and an app secret with 401', async () => {
    for (const client of [anonymous, admin.withToken(`${TEST_ADMIN_TOKEN}x`), a.api]) {
      const res = await client.get('/api/v1/apps');
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringContaining('listing apps needs'),
      });
    }
  });
});

describe('the admin token on app routes', () => {
  it("works on any app's routes as its secret does", async () => {
    const app = await admin.get(`/api/v1/apps/${a.name}`);
    expect(app.status).toBe(200);
    expect(app.body).toMatchObject({ name: a.name });
    const job = await admin.post(`/api/v1/apps/${b.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'echo',
    });
    expect(job.status).toBe(201);
    // The app's own secret sees what the admin made.
    expect((await b.api.get(`/api/v1/apps/${b.name}/jobs/${job.body.id}`)).status).toBe(200);
    expect((await admin.get(`/api/v1/apps/${b.name}/instances`)).status).toBe(200);
    expect((await admin.get(`/api/v1/apps/${b.name}/workers`)).status).toBe(200);
  });

  it('answers 404 for an app that does not exist', async () => {
    const res = await admin.get(`/api/v1/apps/${uniqueName('none')}/jobs`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it("refuses another app's secret, a wrong token and no token with 401", async () => {
    for (const client of [b.api, anonymous, admin.withToken(TEST_ADMIN_TOKEN.slice(0, -1))]) {
      const res = await client.get(`/api/v1/apps/${a.name}/jobs`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('says whether a secret was sent, the same for a wrong one and an unknown app', async () => {
    const how = 'send the app secret (or the admin token) as "Authorization: Bearer <secret>"';
    const none = await anonymous.get(`/api/v1/apps/${a.name}/jobs`);
    expect(none.body.error.message).toBe(how);
    const wrong = await b.api.get(`/api/v1/apps/${a.name}/jobs`);
    expect(wrong.body.error.message).toBe(
      `the secret sent is not app "${a.name}"'s (or there is no such app); ${how}`,
    );
    const unknown = uniqueName('none');
    const missing = await b.api.get(`/api/v1/apps/${unknown}/jobs`);
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toBe(
      `the secret sent is not app "${unknown}"'s (or there is no such app); ${how}`,
    );
  });
});

describe('a server without an admin token', () => {
  it('lists no apps (403 naming DROVER_ADMIN_TOKEN)', async () => {
    const bare = await startTestServer(db.url, { adminToken: undefined });
    try {
      await bare.ready;
      const res = await new ApiClient(bare.url, TEST_ADMIN_TOKEN).get('/api/v1/apps');
      expect(res.status).toBe(403);
      expect(res.body.error.message).toContain('DROVER_ADMIN_TOKEN');
      // Nor does the token open an app's routes there.
      expect(
        (await new ApiClient(bare.url, TEST_ADMIN_TOKEN).get(`/api/v1/apps/${a.name}`)).status,
      ).toBe(401);
    } finally {
      await bare.stop();
    }
  });
});
