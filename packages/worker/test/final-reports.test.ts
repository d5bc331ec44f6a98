import { decode, HandlerError, routeSubject, routes, Timing } from '@drover/protocol';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import type { DroverServer } from '../../server/src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from '../../server/test/support/server-fixture.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { type FinalReport, FinalReporter } from '../src/tracker/final-reporter.js';

// Final reports leave a worker batched in report_finals; a run shorter than
// one report interval sends no report_instance_status at all, yet its
// started_at is set; a final not acknowledged yet keeps its run reported RUNNING.

const db = useDatabase();
const nats = useNats();

/** Counts the messages (and, for report_finals, the reports) on a server subject of `app`. */
function countMessages(app: string) {
  const count = { status: 0, finals: 0, finalReports: 0 };
  const subs: Subscription[] = [
    nats.nc.subscribe(routeSubject(routes.server.reportInstanceStatus, { app }), {
      callback: () => {
        count.status++;
      },
    }),
    nats.nc.subscribe(routeSubject(routes.server.reportFinals, { app }), {
      callback: (_err, msg) => {
        count.finals++;
        count.finalReports += (decode(msg.data) as { reports: unknown[] }).reports.length;
      },
    }),
  ];
  const stop = () => {
    for (const s of subs) s.unsubscribe();
  };
  return { count, stop };
}

describe('short runs on a real worker', () => {
  let server: DroverServer;
  let app: TestApp;
  let worker: DroverWorker;
  beforeAll(async () => {
    server = await startTestServer(db.url);
    await server.ready;
    app = await createTestApp(server, uniqueName('app'));
    worker = await startWorker({
      natsUrl: natsUrl(),
      insecureNats: true, // the suite's shared NATS has no authentication
      app: app.name,
      concurrency: 32,
      processors: [basicProcessor({ name: 'quick', process: () => 'done' })],
      log: testLogger('worker'),
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
  });

  it('end with report_finals alone: no report_instance_status, started_at set', async () => {
    const messages = countMessages(app.name);
    await nats.nc.flush();
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'quick',
    });
    const ids = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, {});
        return res.body.id as string;
      }),
    );
    for (const id of ids) {
      const done = await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
      expect(done.startedAt).toEqual(expect.any(Number));
      expect(done.startedAt as number).toBeLessThanOrEqual(done.finishedAt as number);
    }
    await nats.nc.flush();
    messages.stop();
    expect(messages.count.finalReports).toBe(ids.length);
    expect(messages.count.finals).toBeLessThanOrEqual(ids.length);
    expect(messages.count.status).toBe(0);
  });
});

/** A server's answer accepting every report of a batch. */
const acceptedAll = (reports: { instanceId: string }[]) => ({
  results: reports.map((r) => ({ instanceId: r.instanceId, accepted: true, stop: false })),
});

describe('FinalReporter', () => {
  const report = (instanceId: string): FinalReport => ({
    instanceId,
    epoch: 1,
    status: 'SUCCEEDED',
    progress: { total: 1, succeeded: 1, failed: 0, running: 0 },
    result: 'ok',
    startedAt: Date.now(),
    reportedAt: Date.now(),
  });

  it('sends the finals of runs ending together as ONE report_finals, each answered with its own result', async () => {
    const app = uniqueName('batch');
    const received: number[] = [];
    const handler = nats.bus.handle(routes.server.reportFinals, { app }, (req) => {
      received.push(req.reports.length);
      return {
        results: req.reports.map((r) => ({
          instanceId: r.instanceId,
          accepted: Number(r.instanceId) % 2 === 0,
          stop: Number(r.instanceId) % 2 === 1,
          reason: Number(r.instanceId) % 2 === 1 ? `stale ${r.instanceId}` : undefined,
        })),
      };
    });
    const bus = await nats.connect('reporter');
    const reporter = new FinalReporter(bus, app, 'w-1', testLogger('reporter'));
    try {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          reporter.report(report(String(i + 1)), () => Promise.resolve(true)),
        ),
      );
      expect(received).toEqual([50]);
      answers.forEach((a, i) => {
        const id = i + 1;
        expect(a).toEqual({
          instanceId: String(id),
          accepted: id % 2 === 0,
          stop: id % 2 === 1,
          reason: id % 2 === 1 ? `stale ${id}` : undefined,
        });
      });
    } finally {
      reporter.close();
      await handler.stop();
    }
  });

  it('keeps two report_finals in flight: the next batch leaves while the first waits, a third waits', async () => {
    const app = uniqueName('inflight');
    const received: string[][] = [];
    let release: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = nats.bus.handle(routes.server.reportFinals, { app }, async (req) => {
      received.push(req.reports.map((r) => r.instanceId));
      await answered; // a busy server: no batch is answered until released
      return acceptedAll(req.reports);
    });
    const bus = await nats.connect('inflight-reporter');
    const reporter = new FinalReporter(bus, app, 'w-3', testLogger('inflight-reporter'));
    const beat = () => Promise.resolve(true);
    try {
      const first = reporter.report(report('1'), beat);
      await expect.poll(() => received.length).toBe(1);
      const second = reporter.report(report('2'), beat);
      await expect.poll(() => received.length).toBe(2);
      const third = reporter.report(report('3'), beat);
      // Its batch would have left on the next turn of the event loop (the
      // reporter's setImmediate was queued before this one).
      await new Promise((r) => setImmediate(r));
      expect(reporter.batchesInFlight).toBe(2);
      expect(reporter.pending).toBe(3);
      release();
      for (const answer of await Promise.all([first, second, third]))
        expect(answer).toMatchObject({ accepted: true, stop: false });
      expect(received).toEqual([['1'], ['2'], ['3']]);
    } finally {
      release();
      reporter.close();
      await handler.stop();
    }
  });

  it('reports a run RUNNING while its final is not acknowledged', async () => {
    const app = uniqueName('held');
    let acknowledge = false;
    let tries = 0;
    const handler = nats.bus.handle(routes.server.reportFinals, { app }, (req) => {
      tries++;
      // Postgres cannot take it yet: retryable, as the server answers then.
      if (!acknowledge)
        throw new HandlerError('DATABASE_UNAVAILABLE', 'database away', { retryable: true });
      return acceptedAll(req.reports);
    });
    const bus = await nats.connect('held-reporter');
    const reporter = new FinalReporter(bus, app, 'w-2', testLogger('held-reporter'));
    const beats: number[] = [];
    let beaten: () => void = () => {};
    const firstBeat = new Promise<void>((resolve) => {
      beaten = resolve;
    });
    const queuedAt = Date.now();
    try {
      const answer = reporter.report(report('7'), async () => {
        beats.push(Date.now());
        beaten();
        return true;
      });
      await firstBeat;
      // Within one report interval (plus the 1 s check) of being queued: never silent for long.
      expect(beats[0] as number).toBeLessThanOrEqual(queuedAt + Timing.INSTANCE_REPORT_MS + 1_000);
      expect(tries).toBeGreaterThan(1);
      acknowledge = true;
      expect(await answer).toMatchObject({ accepted: true, stop: false });
      // Beats go only to pending reports: none is left.
      expect(reporter.pending).toBe(0);
    } finally {
      reporter.close();
      await handler.stop();
    }
  }, 20_000);
});
