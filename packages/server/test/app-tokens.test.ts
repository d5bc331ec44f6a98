import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { ApiClient } from './support/api-client.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// API token rotation without downtime: add a token (the old one keeps
// working), switch callers, revoke the old one; never the last one.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(() => server.stop());

describe('API tokens', () => {
  it('rotate: a new token works beside the old, the old is revoked, the last cannot be', async () => {
    const tokens = `/api/v1/apps/${app.name}/tokens`;
    const jobs = `/api/v1/apps/${app.name}/jobs`;
    const first = await app.api.get(tokens);
    expect(first.status).toBe(200);
    expect(first.body.tokens).toHaveLength(1);
    const firstId = first.body.tokens[0].id as string;

    const added = await app.api.post(tokens);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      id: expect.any(String),
      token: expect.stringMatching(/^drv_/),
    });
    const second = app.api.withToken(added.body.token);
    // Both work at once: callers move over without downtime.
    expect((await second.get(jobs)).status).toBe(200);
    expect((await app.api.get(jobs)).status).toBe(200);

    // Listed by id and time only: no token text, no hash.
    const listed = await second.get(tokens);
    expect(listed.body.tokens.map((t: { id: string }) => t.id)).toEqual([firstId, added.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(added.body.token);
    expect(Object.keys(listed.body.tokens[0]).sort()).toEqual(['createdAt', 'id']);

    // The old one revoked: refused at once, the new one goes on.
    expect((await second.delete(`${tokens}/${firstId}`)).status).toBe(204);
    expect((await app.api.get(jobs)).status).toBe(401);
    expect((await second.get(jobs)).status).toBe(200);

    // The last live token stays: the app would be locked out of its own API.
    const last = await second.delete(`${tokens}/${added.body.id}`);
    expect(last.status).toBe(409);
    expect(last.body.error.message).toContain('last');
    expect((await second.get(jobs)).status).toBe(200);
    // Gone or unknown tokens are 404; another app's token ids are not this app's.
    expect((await second.delete(`${tokens}/${firstId}`)).status).toBe(404);
    const other = await createTestApp(server, uniqueName('other'));
    const othersToken = await other.api.post(`/api/v1/apps/${other.name}/tokens`);
    expect((await second.delete(`${tokens}/${othersToken.body.id}`)).status).toBe(404);
    // And a token works for its own app only.
    expect((await second.withToken(othersToken.body.token).get(jobs)).status).toBe(401);
  });

  it('are managed only with a token of the app', async () => {
    const tokens = `/api/v1/apps/${app.name}/tokens`;
    const anon = new ApiClient(server.url);
    expect((await anon.get(tokens)).status).toBe(401);
    expect((await anon.post(tokens)).status).toBe(401);
    expect((await anon.withToken('drv_1_not-a-real-token').get(tokens)).status).toBe(401);
  });
});
