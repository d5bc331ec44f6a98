import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  TEST_ADMIN_TOKEN,
  type TestApp,
} from '../../server/test/support/server-fixture.js';
import { DroverApiError, DroverClient, type DroverEvent } from '../src/index.js';

// The calls the web console makes: apps for the admin token, run statistics,
// runs by worker and time, and the event stream (fetch + a stream reader, the
// same code a browser runs). No worker here: client-runs.test.ts follows real runs.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let drover: DroverClient;

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  drover = new DroverClient({ url: server.url, app: app.name, secret: app.secret });
});
afterAll(() => server.stop());

describe('DroverClient for the console', () => {
  it('lists apps with the admin token; an app secret gets a 401', async () => {
    const admin = new DroverClient({ url: server.url, app: app.name, secret: TEST_ADMIN_TOKEN });
    expect(await admin.listApps()).toEqual(
      expect.arrayContaining([{ name: app.name, createdAt: expect.any(Number) }]),
    );
    await expect(drover.listApps()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('gets run statistics; a bad minutes is a 400 naming query.minutes', async () => {
    expect(await drover.getRunStats()).toEqual({
      minutes: 60,
      buckets: [],
      waiting: 0,
      running: 0,
    });
    expect((await drover.getRunStats(5)).minutes).toBe(5);
    const err: unknown = await drover.getRunStats(0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DroverApiError);
    expect((err as DroverApiError).issues?.map((i) => i.path)).toEqual(['query.minutes']);
  });

  it('lists runs by creation time and worker', async () => {
    const job = await drover.createJob({
      name: uniqueName('job'),
      processorName: 'nobody-has-it',
      timeExpressionType: 'API',
    });
    const before = Date.now() - 1;
    const run = await drover.runJob(job.id);
    expect(
      (await drover.listInstances({ createdAfter: before })).instances.map((i) => i.id),
    ).toEqual([run.id]);
    expect((await drover.listInstances({ createdBefore: before })).instances).toEqual([]);
    // Not dispatched: no worker holds it.
    expect((await drover.listInstances({ workerId: 'w-1' })).instances).toEqual([]);
  });

  it('streams events until the signal aborts (rejecting with its reason), validated and typed', async () => {
    const abort = new AbortController();
    const job = await drover.createJob({
      name: uniqueName('job'),
      processorName: 'nobody-has-it',
      timeExpressionType: 'API',
    });
    const seen: DroverEvent[] = [];
    const reading = (async () => {
      for await (const event of drover.events(undefined, { signal: abort.signal })) {
        seen.push(event);
        if (event.type === 'instance' && event.status === 'CANCELED')
          abort.abort(new Error('seen'));
      }
    })();
    // The stream is open once the server counts it: then the run's events cannot be missed.
    await untilOpenStreams(1);
    const run = await drover.runJob(job.id, { delayMs: 60_000 });
    await drover.cancelInstance(run.id);
    await expect(reading).rejects.toThrow('seen');
    expect(seen).toContainEqual(
      expect.objectContaining({ type: 'instance', instanceId: run.id, status: 'CANCELED' }),
    );
    await untilOpenStreams(0);
  });

  it('ends the stream when the caller stops iterating', async () => {
    const admin = new DroverClient({ url: server.url, app: 'ignored', secret: TEST_ADMIN_TOKEN });
    const events = admin.events(app.name);
    const first = events.next();
    await untilOpenStreams(1);
    const job = await drover.createJob({
      name: uniqueName('job'),
      processorName: 'nobody-has-it',
      timeExpressionType: 'API',
    });
    const run = await drover.runJob(job.id, { delayMs: 60_000 });
    await drover.cancelInstance(run.id);
    expect((await first).value).toMatchObject({ type: 'instance', instanceId: run.id });
    await events.return(undefined);
    await untilOpenStreams(0);
  });

  it('rejects with a DroverApiError when the stream is refused', async () => {
    const wrong = new DroverClient({ url: server.url, app: app.name, secret: 'wrong-secret-0123' });
    await expect(wrong.events().next()).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
    await expect(drover.events(undefined, { instanceId: 'x' }).next()).rejects.toMatchObject({
      status: 400,
      issues: [expect.objectContaining({ path: 'query.instanceId' })],
    });
  });
});

/** The server's open event streams, as /metrics tells (a gauge: polled). */
async function untilOpenStreams(n: number): Promise<void> {
  const until = Date.now() + 5_000;
  for (;;) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('drover_event_streams '));
    if (Number(line?.split(' ')[1]) === n) return;
    if (Date.now() > until) throw new Error(`not ${n} open streams: ${line}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
