import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { AppAuthenticator, createApp } from '../src/store/apps.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// Secret checks under abuse: an unknown app costs what a wrong secret costs
// (timing does not tell which apps exist), a refused pair is answered from
// memory, and a flood of wrong secrets is turned away with 429 instead of
// stalling the checks that matter.

const db = useDatabase();
let pool: pg.Pool;
let server: DroverServer;
let app: TestApp;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
});
afterAll(async () => {
  await server.stop();
  await pool.end();
});

describe('app secret checks', () => {
  it('hash an unknown app like a wrong secret, and remember a refused pair', async () => {
    const name = uniqueName('known');
    await createApp(pool, name, 'the-right-secret-123');
    const auth = new AppAuthenticator(pool);

    expect(await auth.authenticate(uniqueName('nobody'), 'whatever-secret')).toBeNull();
    expect(auth.hashes).toBe(1);
    expect(await auth.authenticate(name, 'a-wrong-secret-456')).toBeNull();
    expect(auth.hashes).toBe(2);
    // The same wrong pair again: answered from memory, no scrypt.
    expect(await auth.authenticate(name, 'a-wrong-secret-456')).toBeNull();
    expect(auth.hashes).toBe(2);
    // The right one is not held back by the refused one.
    expect(await auth.authenticate(name, 'the-right-secret-123')).toMatchObject({ name });
    expect(auth.hashes).toBe(3);
  });

  it('checks a burst of calls with one new pair once, so a client’s first 200 calls all pass', async () => {
    const name = uniqueName('burst');
    await createApp(pool, name, 'burst-secret-123456');
    const auth = new AppAuthenticator(pool);
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => auth.authenticate(name, 'burst-secret-123456')),
    );
    expect(answers.every((a) => a?.name === name)).toBe(true);
    expect(auth.hashes).toBe(1);
  });

  it('answers a flood of wrong secrets with 429 and Retry-After while proven secrets still pass', async () => {
    const jobs = `${server.url}/api/v1/apps/${app.name}/jobs`;
    expect((await app.api.get(`/api/v1/apps/${app.name}/jobs`)).status).toBe(200);

    const flood = Array.from({ length: 400 }, (_, i) =>
      fetch(jobs, { headers: { authorization: `Bearer wrong-secret-${i}` } }),
    );
    const proven = Array.from({ length: 20 }, () => app.api.get(`/api/v1/apps/${app.name}/jobs`));
    const [answers, provenAnswers] = await Promise.all([Promise.all(flood), Promise.all(proven)]);

    expect(provenAnswers.map((r) => r.status)).toEqual(provenAnswers.map(() => 200));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    const busy = answers.filter((r) => r.status === 429);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]?.headers.get('retry-after')).toBe('1');
    expect(await busy[0]?.json()).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS' } });
  });
});
