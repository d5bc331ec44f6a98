import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../../server/src/index.js';
import { createTestApp, startTestServer } from '../../server/test/support/server-fixture.js';
import {
  DroverApiError,
  DroverClient,
  DroverTimeoutError,
  DroverUnavailableError,
  type JobSpecInput,
} from '../src/index.js';

// DroverClient against a real server (no worker: runs stay unstarted), for
// the calls, their order and idempotency, and the typed errors.

const db = useDatabase();
let server: DroverServer;
let drover: DroverClient;
let secret: string;
/** The bulk calls `drover` made, each with its number of runs. */
const bulkCalls: number[] = [];

const HOUR = 3_600_000;
const apiJob = (spec: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: uniqueName('job'),
  processorName: 'nobody-has-it',
  timeExpressionType: 'API',
  ...spec,
});

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  const app = await createTestApp(server, uniqueName('app'));
  secret = app.secret;
  drover = new DroverClient({
    url: server.url,
    app: app.name,
    secret: app.secret,
    fetch: (input, init) => {
      if (input.endsWith('/runs') && typeof init.body === 'string')
        bulkCalls.push((JSON.parse(init.body) as { runs: unknown[] }).runs.length);
      return fetch(input, init);
    },
  });
});
afterAll(() => server.stop());

describe('DroverClient', () => {
  it('creates, lists, shows, updates, disables, enables, previews and deletes a job', async () => {
    const job = await drover.createJob(apiJob({ description: 'first' }));
    expect(job.spec).toMatchObject({ description: 'first', timeExpressionType: 'API' });
    const cron = await drover.createJob(
      apiJob({ timeExpressionType: 'CRON', timeExpression: '0 0 3 * * *' }),
    );
    expect((await drover.getJob(cron.id)).nextTriggers).toHaveLength(5);

    const page = await drover.listJobs({ limit: 1 });
    expect(page.jobs.map((j) => j.id)).toEqual([job.id]);
    expect(page.next).toBe(job.id);
    const rest = await drover.listJobs({ after: page.next ?? undefined });
    expect(rest.jobs.map((j) => j.id)).toEqual([cron.id]);

    const updated = await drover.updateJob(job.id, { ...apiJob(), description: 'second' });
    expect(updated.spec.description).toBe('second');
    expect((await drover.disableJob(cron.id)).enabled).toBe(false);
    expect((await drover.getJob(cron.id)).nextTriggers).toEqual([]);
    expect((await drover.enableJob(cron.id)).enabled).toBe(true);

    const times = await drover.previewJob(
      apiJob({ timeExpressionType: 'FIXED_RATE', timeExpression: '60000' }),
    );
    expect(times).toHaveLength(5);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBe(60_000);

    await drover.deleteJob(job.id);
    await expect(drover.getJob(job.id)).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('runs a job once per key, cancels a waiting run and retries it', async () => {
    const job = await drover.createJob(apiJob());
    const run = await drover.runJob(job.id, {
      params: { n: 1 },
      delayMs: HOUR,
      idempotencyKey: 'once',
    });
    expect(run).toMatchObject({ jobId: job.id, status: 'WAITING_DISPATCH', params: { n: 1 } });
    expect((await drover.runJob(job.id, { idempotencyKey: 'once' })).id).toBe(run.id);

    const canceled = await drover.cancelInstance(run.id);
    expect(canceled.status).toBe('CANCELED');
    const retried = await drover.retryInstance(run.id);
    expect(retried).toMatchObject({ retryOf: run.id, triggerType: 'RETRY' });
    expect((await drover.getInstance(run.id)).status).toBe('CANCELED');

    const canceledOnly = await drover.listInstances({ jobId: job.id, status: ['CANCELED'] });
    expect(canceledOnly.instances.map((i) => i.id)).toEqual([run.id]);
    const all = await drover.listInstances({ jobId: job.id });
    expect(all.instances.map((i) => i.id)).toEqual([retried.id, run.id]);
    expect((await drover.stopInstance(retried.id)).status).toBe('STOPPED');
  });

  it('runs more than 1,000 runs as calls of 1,000, instances in order, each key once', async () => {
    const job = await drover.createJob(apiJob());
    const runs = Array.from({ length: 1_001 }, (_, i) => ({
      params: { n: i },
      delayMs: HOUR,
      idempotencyKey: `k${i}`,
    }));
    bulkCalls.length = 0;
    const instances = await drover.runMany(job.id, runs);
    expect(bulkCalls).toEqual([1_000, 1]);
    expect(instances.map((i) => i.params)).toEqual(runs.map((r) => r.params));
    const ids = instances.map((i) => BigInt(i.id));
    expect(new Set(ids).size).toBe(1_001);
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);

    // Sent again (as after a lost answer): the same instances, none new.
    const again = await drover.runMany(job.id, runs);
    expect(again.map((i) => i.id)).toEqual(instances.map((i) => i.id));
    const newest = await drover.listInstances({ jobId: job.id, limit: 1 });
    expect(newest.instances[0]?.id).toBe(instances.at(-1)?.id);
  });

  it('names each refused field in a DroverApiError on a 400', async () => {
    const refused = await drover
      .createJob({ ...apiJob(), name: '', timeExpressionType: 'CRON', timeExpression: 'nope' })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DroverApiError);
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_INPUT', method: 'POST' });
    const paths = (refused as DroverApiError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name']));

    const job = await drover.createJob(apiJob());
    const badRun = await drover.runJob(job.id, { delayMs: -1 }).catch((err: unknown) => err);
    expect(badRun).toBeInstanceOf(DroverApiError);
    expect((badRun as DroverApiError).issues).toEqual([
      expect.objectContaining({ path: 'body.delayMs' }),
    ]);
  });

  it('answers a DroverApiError with NOT_FOUND on a 404, and on a wrong secret a 401', async () => {
    const missing = await drover.getInstance('999999999').catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(DroverApiError);
    expect(missing).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      message: 'instance 999999999 not found',
      issues: [],
    });
    const stranger = new DroverClient({ url: server.url, app: drover.app, secret: 'wrong' });
    await expect(stranger.listJobs()).rejects.toMatchObject({
      name: 'DroverApiError',
      status: 401,
    });
  });

  it('throws DroverUnavailableError when nothing listens on the port', async () => {
    const closed = await closedPortUrl();
    const nowhere = new DroverClient({ url: closed, app: 'a' });
    const err = await nowhere.listWorkers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DroverUnavailableError);
    expect(err).toMatchObject({ url: closed });
    expect((err as DroverUnavailableError).reason).toMatch(/ECONNREFUSED/);
  });

  it('refuses an answer that is not the API’s, and a server that does not answer in time', async () => {
    const { url, close } = await fakeServer((res) => {
      res.end(JSON.stringify({ id: 1 }));
    });
    try {
      const err = await new DroverClient({ url, app: 'a' })
        .getInstance('1')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DroverApiError);
      expect(err).toMatchObject({ status: 200, code: 'UNEXPECTED_ANSWER' });
      expect((err as DroverApiError).issues.map((i) => i.path)).toContain('id');
    } finally {
      await close();
    }
    const silent = await fakeServer(() => undefined);
    try {
      const slow = new DroverClient({ url: silent.url, app: 'a', requestTimeoutMs: 200 });
      const started = performance.now();
      const err = await slow.getInstance('1').catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(DroverUnavailableError);
      expect((err as DroverUnavailableError).reason).toBe('no answer within 200 ms');
      // docs/guarantees.md: at requestTimeoutMs, within 1 s.
      expect(elapsed).toBeGreaterThanOrEqual(200 - 1);
      expect(elapsed).toBeLessThan(200 + 1_000);
    } finally {
      await silent.close();
    }
  });

  it('gives up waiting with DroverTimeoutError at timeoutMs, and stops on abort', async () => {
    const job = await drover.createJob(apiJob());
    const run = await drover.runJob(job.id, { delayMs: HOUR });
    const started = performance.now();
    const err = await drover.waitForInstance(run.id, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(DroverTimeoutError);
    expect(err).toMatchObject({ instanceId: run.id, lastStatus: 'WAITING_DISPATCH' });
    // docs/guarantees.md: rejects at timeoutMs, within 1 s.
    expect(elapsed).toBeGreaterThanOrEqual(1_500 - 1);
    expect(elapsed).toBeLessThan(1_500 + 1_000);

    const controller = new AbortController();
    const waiting = drover.waitForInstance(run.id, {
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(drover.waitForInstance(run.id, { timeoutMs: -1 })).rejects.toThrow(
      'timeoutMs must be a number of ms >= 0, got -1',
    );
  });
  it('waits through a server that answers 503 for a while', async () => {
    const job = await drover.createJob(apiJob());
    const run = await drover.runJob(job.id, { delayMs: HOUR });
    await drover.cancelInstance(run.id);
    // A proxy in front of the real server: its first three answers are 503s (Postgres away).
    let refused = 0;
    const proxy = await fakeServer(async (res, path) => {
      if (refused < 3) {
        refused++;
        res.statusCode = 503;
        res.end(
          JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'database not reachable' } }),
        );
        return;
      }
      const real = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      res.statusCode = real.status;
      res.end(await real.text());
    });
    try {
      const through = new DroverClient({ url: proxy.url, app: drover.app });
      const done = await through.waitForInstance(run.id, { timeoutMs: 10_000 });
      expect(done).toMatchObject({ id: run.id, status: 'CANCELED' });
      expect(refused).toBe(3);
    } finally {
      await proxy.close();
    }
  });
});

/** A URL on which nothing listens: a port just freed. */
async function closedPortUrl(): Promise<string> {
  const { url, close } = await fakeServer(() => undefined);
  await close();
  return url;
}

/** A real HTTP server answering every request with `answer` (it may answer nothing). */
async function fakeServer(
  answer: (res: ServerResponse, path: string) => void | Promise<void>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const http: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    void Promise.resolve(answer(res, req.url ?? '/')).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
