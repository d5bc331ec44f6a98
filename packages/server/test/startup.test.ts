import { describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { startTcpProxy } from '../../../test/harness/tcp-proxy.js';
import { ApiClient, readyzUntil, readyzWhere } from './support/api-client.js';
import { startTestServer, TEST_ADMIN_TOKEN } from './support/server-fixture.js';

const db = useDatabase();

describe('startup and outages', () => {
  it('starts before Postgres is reachable, reports not ready, then serves once it is', async () => {
    const pgUrl = new URL(db.url);
    const proxy = await startTcpProxy(Number(pgUrl.port), false);
    pgUrl.port = String(proxy.port);
    const server = await startTestServer(pgUrl.toString());
    try {
      const api = new ApiClient(server.url);
      expect((await api.get('/healthz')).status).toBe(200);
      const notReady = await api.get('/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.body).toMatchObject({ ready: false, database: false });
      // Each dependency is reported as it is: NATS is up, Postgres is not.
      const natsOnly = await readyzWhere(api, (body) => body.nats === true);
      expect(natsOnly).toMatchObject({ ready: false, nats: true, database: false });
      const refused = await api.post('/api/v1/apps', {
        name: 'early',
        secret: 'a-long-enough-secret',
      });
      expect(refused.status).toBe(503);
      expect(refused.body.error.message).toMatch(
        /Postgres not connected yet \(the server's log says why\)/,
      );

      proxy.enable();
      await server.ready;
      expect((await api.get('/readyz')).status).toBe(200);
      expect(
        (
          await api
            .withToken(TEST_ADMIN_TOKEN)
            .post('/api/v1/apps', { name: 'after', secret: 'a-long-enough-secret' })
        ).status,
      ).toBe(201);

      // Postgres goes away mid-run: not ready, 503s, no crash; then back to work.
      proxy.disable();
      await readyzUntil(api, false);
      const during = await new ApiClient(server.url, 'a-long-enough-secret').get(
        '/api/v1/apps/after/jobs',
      );
      expect(during.status).toBe(503);
      proxy.enable();
      await readyzUntil(api, true);
      const after = await new ApiClient(server.url, 'a-long-enough-secret').get(
        '/api/v1/apps/after/jobs',
      );
      expect(after.status).toBe(200);
    } finally {
      await server.stop();
      await proxy.close();
    }
  });

  it('refuses settings that contradict each other, naming the setting', async () => {
    await expect(startTestServer(db.url, { acceptTimeoutMs: 1_000 })).rejects.toThrow(
      /acceptTimeoutMs/,
    );
  });
});
