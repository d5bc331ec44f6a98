import { request } from 'node:http';
import { eventsSubject, routes } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/harness/fixtures.js';
import {
  EVENT_BACKLOG_BYTES,
  EVENT_PING_MS,
  MAX_EVENT_STREAMS,
} from '../src/http/event-streams.js';
import { ApiClient } from './support/api-client.js';
import { useDispatchSetup } from './support/dispatch-setup.js';
import {
  createTestApp,
  startTestServer,
  TEST_ADMIN_TOKEN,
  waitForInstance,
} from './support/server-fixture.js';
import { SseStream } from './support/sse.js';

// GET /apps/{app}/events: the app's NATS lifecycle events as Server-Sent
// Events, what the console follows runs and logs with.

const s = useDispatchSetup();
const eventsUrl = (query = '') => `${s.server.url}/api/v1/apps/${s.app.name}/events${query}`;

/** The server's open event streams, as /metrics tells. */
async function openStreams(): Promise<number> {
  const text = await (await fetch(`${s.server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('drover_event_streams '));
  return Number(line?.split(' ')[1]);
}

/** Polls /metrics (a gauge: no event to await) until `n` streams are open. */
async function untilOpenStreams(n: number, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await openStreams();
    if (open === n) return;
    if (Date.now() > until) throw new Error(`${open} streams open, not ${n}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ships `lines` of a run's online log as its worker does. */
async function shipLogs(
  w: Awaited<ReturnType<typeof s.worker>>,
  instanceId: string,
  lines: string[],
): Promise<void> {
  await w.bus.reliableAsk(
    routes.server.reportLog,
    { app: s.app.name },
    {
      instanceId,
      workerId: w.options.workerId,
      batchId: uniqueName('batch'),
      lines: lines.map((message) => ({ ts: Date.now(), level: 'info' as const, message })),
    },
    { deadlineMs: 5_000 },
  );
}

describe('GET /api/v1/apps/{app}/events', () => {
  it("streams a run's instance and log events, narrowed by instanceId", async () => {
    const w = await s.worker({ processors: ['chatty'] });
    const job = await s.createJob({ processorName: 'chatty' });
    const all = await SseStream.open(eventsUrl(), s.app.secret);
    expect(all.response.status).toBe(200);
    expect(all.response.headers.get('content-type')).toContain('text/event-stream');
    expect(all.response.headers.get('cache-control')).toContain('no-cache');
    await untilOpenStreams(1);
    const first = await s.run(job);
    const second = await s.run(job);
    const one = await SseStream.open(eventsUrl(`?instanceId=${second.id}`), s.app.secret);
    await untilOpenStreams(2);
    await waitForInstance(s.app, first.id, (i) => i.status === 'RUNNING');
    await waitForInstance(s.app, second.id, (i) => i.status === 'RUNNING');

    await shipLogs(w, first.id, ['first says hi']);
    await shipLogs(w, second.id, ['second line 1', 'second line 2']);
    const run = w.runs.find((r) => r.instanceId === second.id);
    if (!run) throw new Error('the worker got no run');
    await w.report(run, 'SUCCEEDED', 'done');

    const running = await all.next(
      (m) => m.event === 'instance' && m.data?.includes(`"instanceId":"${first.id}"`) === true,
    );
    expect(JSON.parse(running.data ?? '')).toMatchObject({
      type: 'instance',
      app: s.app.name,
      instanceId: first.id,
    });
    const log = await one.next((m) => m.event === 'log');
    expect(JSON.parse(log.data ?? '')).toEqual({
      type: 'log',
      app: s.app.name,
      instanceId: second.id,
      lines: [
        expect.objectContaining({
          message: 'second line 1',
          level: 'info',
          workerId: w.options.workerId,
          id: expect.any(String),
        }),
        expect.objectContaining({ message: 'second line 2', taskId: null }),
      ],
    });
    await one.next((m) => m.event === 'instance' && m.data?.includes('"SUCCEEDED"') === true);
    await all.next((m) => m.event === 'log' && m.data?.includes('first says hi') === true);
    // The narrowed stream saw nothing of the first run.
    const others = one.messages.filter((m) => m.data?.includes(`"instanceId":"${first.id}"`));
    expect(others).toEqual([]);
    // The same ids the logs route answers: a page can fetch, then follow.
    const stored = await s.app.api.get(`/api/v1/apps/${s.app.name}/instances/${second.id}/logs`);
    expect(JSON.parse(log.data ?? '').lines).toEqual(stored.body.lines);
    all.close();
    one.close();
    await untilOpenStreams(0);
  });

  it('sends a large batch of log lines as several log events, in order', async () => {
    const w = await s.worker({ processors: ['chatty'] });
    const run = await s.run(await s.createJob({ processorName: 'chatty' }));
    await waitForInstance(s.app, run.id, (i) => i.status === 'RUNNING');
    const stream = await SseStream.open(eventsUrl(`?instanceId=${run.id}`), s.app.secret);
    await untilOpenStreams(1);
    // 4 lines of 60,000 characters: over the 256 KiB an event's lines take, so one per event.
    const lines = [0, 1, 2, 3].map((i) => `${i}`.repeat(60_000));
    await shipLogs(w, run.id, lines);
    await stream.next((m) => m.event === 'log' && m.data?.includes('"3333') === true);
    const events = stream.events<{ lines: { message: string }[] }>('log');
    expect(events.map((e) => e.lines.map((l) => l.message[0]))).toEqual([
      ['0'],
      ['1'],
      ['2'],
      ['3'],
    ]);
    stream.close();
    await untilOpenStreams(0);
  });

  it('forwards only events that pass the protocol schemas', async () => {
    const stream = await SseStream.open(eventsUrl(), s.app.secret);
    await untilOpenStreams(1);
    const bus = await s.nats.connect('rogue');
    const publish = (type: string, body: unknown) =>
      bus.nc.publish(
        eventsSubject(s.app.name, type),
        new TextEncoder().encode(JSON.stringify(body)),
      );
    publish('instance', { type: 'instance', app: s.app.name, instanceId: 'not-an-id' });
    bus.nc.publish(eventsSubject(s.app.name, 'log'), new TextEncoder().encode('{not json'));
    const worker = { type: 'worker', app: s.app.name, workerId: 'w-valid', state: 'joined', at: 1 };
    publish('worker', worker);
    const seen = await stream.next((m) => m.event === 'worker');
    expect(JSON.parse(seen.data ?? '')).toEqual(worker);
    // NATS delivers in order: the bad ones came first and were dropped.
    expect(stream.messages.filter((m) => m.event)).toEqual([seen]);
    stream.close();
    await untilOpenStreams(0);
  });

  it('ends the NATS subscription when the client disconnects', async () => {
    const streams = await Promise.all(
      [1, 2, 3].map(() => SseStream.open(eventsUrl(), s.app.secret)),
    );
    await untilOpenStreams(3);
    streams[0]?.close();
    await untilOpenStreams(2);
    for (const stream of streams) stream.close();
    await untilOpenStreams(0);
  });

  it(`drops a client that stops reading once ${EVENT_BACKLOG_BYTES / 1024 / 1024} MiB of events wait for it`, async () => {
    const url = new URL(eventsUrl());
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { authorization: `Bearer ${s.app.secret}` },
        // Its own socket, without the global agent's idle timeout.
        agent: false,
      },
      (res) => {
        expect(res.statusCode).toBe(200);
        res.pause(); // reads nothing more: the server's writes pile up
      },
    );
    req.on('error', () => undefined);
    req.end();
    await untilOpenStreams(1);
    const bus = await s.nats.connect('loud');
    const line = {
      id: '1',
      ts: 1,
      level: 'info',
      message: 'x'.repeat(60_000),
      workerId: 'w',
      taskId: null,
    };
    // ~24 MB of valid log events: far past the backlog bound and the sockets' buffers.
    for (let i = 0; i < 400; i++)
      bus.nc.publish(
        eventsSubject(s.app.name, 'log'),
        new TextEncoder().encode(
          JSON.stringify({ type: 'log', app: s.app.name, instanceId: '1', lines: [line] }),
        ),
      );
    await bus.nc.flush();
    // Dropped: its NATS subscription ended while the events still came.
    await untilOpenStreams(0, 10_000);
    req.destroy();
  });

  it(`holds at most ${MAX_EVENT_STREAMS} streams: 429 beyond, room again once one goes`, async () => {
    const streams = await Promise.all(
      Array.from({ length: MAX_EVENT_STREAMS }, () => SseStream.open(eventsUrl(), s.app.secret)),
    );
    try {
      expect(streams.map((x) => x.response.status)).toEqual(streams.map(() => 200));
      const refused = await SseStream.open(eventsUrl(), s.app.secret);
      expect(refused.response.status).toBe(429);
      expect(refused.response.headers.get('retry-after')).toBe('5');
      expect(await refused.response.json()).toMatchObject({
        error: {
          code: 'TOO_MANY_REQUESTS',
          message: expect.stringContaining(`${MAX_EVENT_STREAMS}`),
        },
      });
      streams.pop()?.close();
      await untilOpenStreams(MAX_EVENT_STREAMS - 1);
      const again = await SseStream.open(eventsUrl(), s.app.secret);
      expect(again.response.status).toBe(200);
      streams.push(again);
    } finally {
      for (const stream of streams) stream.close();
    }
    await untilOpenStreams(0);
  });

  it(`sends ": ping" within ${EVENT_PING_MS / 1000} s + 1 s of quiet`, {
    timeout: 30_000,
  }, async () => {
    const other = await createTestApp(s.server, uniqueName('quiet'));
    const opened = Date.now();
    const stream = await SseStream.open(
      `${s.server.url}/api/v1/apps/${other.name}/events`,
      other.secret,
    );
    await stream.next((m) => m.comment === 'ping', EVENT_PING_MS + 1_000);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(EVENT_PING_MS - 100);
    stream.close();
    await untilOpenStreams(0);
  });

  it("takes the admin token; refuses no token, a wrong one and another app's (401); names a bad instanceId (400)", async () => {
    const admin = await SseStream.open(eventsUrl(), TEST_ADMIN_TOKEN);
    expect(admin.response.status).toBe(200);
    admin.close();
    const other = await createTestApp(s.server, uniqueName('other'));
    for (const token of [undefined, 'wrong-token-0123456789', other.secret]) {
      const res = await SseStream.open(eventsUrl(), token);
      expect(res.response.status).toBe(401);
    }
    const bad = await new ApiClient(s.server.url, s.app.secret).get(
      `/api/v1/apps/${s.app.name}/events?instanceId=abc`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toEqual([
      'query.instanceId',
    ]);
    await untilOpenStreams(0);
  });

  it('stops at once after clients dropped their streams (their spare connections do not hold it)', async () => {
    const server = await startTestServer(s.db.url);
    await server.ready;
    const app = await createTestApp(server, uniqueName('dropped'));
    const url = `${server.url}/api/v1/apps/${app.name}/events`;
    const streams = await Promise.all([1, 2, 3].map(() => SseStream.open(url, app.secret)));
    for (const stream of streams) stream.close();
    const stopping = Date.now();
    await server.stop();
    // Without closing them, an unused connection held the stop for the 72 s keep-alive timeout.
    expect(Date.now() - stopping).toBeLessThan(10_000);
  });

  it('ends open streams when the server stops (an open one would hold its stop)', async () => {
    const server = await startTestServer(s.db.url);
    await server.ready;
    const app = await createTestApp(server, uniqueName('stopping'));
    const stream = await SseStream.open(`${server.url}/api/v1/apps/${app.name}/events`, app.secret);
    expect(stream.response.status).toBe(200);
    await Promise.all([server.stop(), stream.untilEnded()]);
  });
});
