import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DroverCluster, startDroverCluster } from '../../../test/harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import { DroverClient, type DroverEvent, isFinal, type LogLine } from '../src/index.js';

// DroverClient against a drover-server and a drover-worker process running
// test/fixtures/processors.ts: runs that finish, their results and logs.

const db = useDatabase();
let cluster: DroverCluster;
let drover: DroverClient;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['client-1'] });
  const { app } = cluster;
  drover = new DroverClient({ url: cluster.serverUrl, app: app.name, secret: app.secret });
});
afterAll(() => cluster.stop());

describe('DroverClient with a worker', () => {
  it('lists the worker, runs a job and waits for its result', async () => {
    const workers = await drover.listWorkers();
    expect(workers).toEqual([
      expect.objectContaining({
        workerId: 'client-1',
        alive: true,
        processors: expect.arrayContaining(['echo']),
      }),
    ]);
    const job = await drover.createJob({
      name: uniqueName('echo'),
      processorName: 'echo',
      timeExpressionType: 'API',
    });
    const run = await drover.runJob(job.id, { params: { text: 'hello' } });
    const done = await drover.waitForInstance(run.id, { timeoutMs: 20_000 });
    expect(done).toMatchObject({ id: run.id, status: 'SUCCEEDED', result: 'hello' });
  });

  it('follows a run’s logs while it runs, in order, and ends once it is final', async () => {
    const job = await drover.createJob({
      name: uniqueName('leaves'),
      processorName: 'leaves',
      executeType: 'MAP_REDUCE',
      timeExpressionType: 'API',
      // 40 leaves of 150 ms, two at a time (3 s): lines arrive in several batches (one per 500 ms)
      // while the client's polls back off to 1 s.
      concurrencyPerWorker: 2,
    });
    const run = await drover.runJob(job.id, { params: { count: 40, ms: 150 } });
    const lines: LogLine[] = [];
    let seenBeforeFinal = false;
    for await (const line of drover.followLogs(run.id)) {
      if (!lines.length) seenBeforeFinal = !isFinal(await drover.getInstance(run.id));
      lines.push(line);
    }
    // The iteration ended: the run is final, and every leaf's line came, once, in order.
    expect(isFinal(await drover.getInstance(run.id))).toBe(true);
    expect(seenBeforeFinal).toBe(true);
    const leafLines = lines.filter((l) => /^leaf \S+ attempt 1 on client-1$/.test(l.message));
    expect(leafLines).toHaveLength(40);
    const ids = lines.map((l) => BigInt(l.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("follows a run's instance and log events live from the event stream", async () => {
    const job = await drover.createJob({
      name: uniqueName('echo'),
      processorName: 'echo',
      timeExpressionType: 'API',
    });
    const abort = new AbortController();
    const events = drover.events(undefined, { signal: abort.signal });
    // Reading opens the stream; the run starts once the server counts it open, so none of its events is missed.
    const seen: DroverEvent[] = [];
    let runId: string | undefined;
    const done = (async () => {
      for await (const event of events) {
        seen.push(event);
        const mine = 'instanceId' in event && event.instanceId === runId;
        const logged = seen.some((e) => e.type === 'log' && e.instanceId === runId);
        const finished = seen.some(
          (e) => e.type === 'instance' && e.instanceId === runId && e.status === 'SUCCEEDED',
        );
        if (mine && logged && finished) return;
      }
    })();
    await untilStreamOpen();
    runId = (await drover.runJob(job.id, { params: { text: 'live' } })).id;
    await done;
    abort.abort();
    const log = seen.find((e) => e.type === 'log' && e.instanceId === runId);
    expect(log).toMatchObject({
      lines: [expect.objectContaining({ message: `echoing on ${runId}`, workerId: 'client-1' })],
    });
  });

  it('stops a running instance', async () => {
    const job = await drover.createJob({
      name: uniqueName('forever'),
      processorName: 'forever',
      timeExpressionType: 'API',
    });
    const run = await drover.runJob(job.id);
    const stopped = await drover.stopInstance(run.id);
    expect(stopped.status).toBe('STOPPED');
    expect((await drover.waitForInstance(run.id, { timeoutMs: 5_000 })).status).toBe('STOPPED');
  });
});

/** Until the server counts an open event stream (a gauge on /metrics: polled). */
async function untilStreamOpen(): Promise<void> {
  const until = Date.now() + 5_000;
  for (;;) {
    const text = await (await fetch(`${cluster.serverUrl}/metrics`)).text();
    if (/^drover_event_streams [1-9]/m.test(text)) return;
    if (Date.now() > until) throw new Error('no event stream open');
    await new Promise((r) => setTimeout(r, 50));
  }
}
