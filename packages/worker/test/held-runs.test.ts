import { routes } from '@drover/protocol';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { standaloneRun } from './support/standalone-run.js';

// Runs sent ahead of their time (`startInMs`) are held with their TaskTracker
// built in advance. A newer epoch of a held run (the server re-dispatched it)
// replaces it: the run starts once, at its time, under the newer epoch.

const nats = useNats();
const WORKER = 'held-1';
let worker: DroverWorker;
const started: { instanceId: string; signalAborted: boolean }[] = [];
const finals: { instanceId: string; epoch: number; status: string }[] = [];

beforeAll(async () => {
  nats.bus.handle(routes.server.reportFinals, { app: nats.app }, (req) => {
    finals.push(
      ...req.reports.map((r) => ({ instanceId: r.instanceId, epoch: r.epoch, status: r.status })),
    );
    return {
      results: req.reports.map((r) => ({ instanceId: r.instanceId, accepted: true, stop: false })),
    };
  });
  nats.bus.handle(routes.server.reportInstanceStatus, { app: nats.app }, () => ({
    accepted: true,
    stop: false,
  }));
  await nats.nc.flush();
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: WORKER,
    concurrency: 4,
    processors: [
      basicProcessor({
        name: 'note',
        process: (ctx) => {
          // Read here: the signal is made on first use, and must be a live one.
          started.push({ instanceId: ctx.instanceId, signalAborted: ctx.signal.aborted });
          return 'done';
        },
      }),
    ],
    log: testLogger(WORKER),
  });
});
afterAll(async () => {
  await worker.stop();
});

const sendAhead = async (epoch: number, startInMs: number) => {
  const answer = await nats.bus.ask(
    routes.tt.runJobs,
    { app: nats.app, workerId: WORKER },
    { runs: [{ ...standaloneRun('7', 'note', epoch), startInMs }] },
  );
  expect(answer.results[0]).toMatchObject({ accepted: true });
};

it('starts a held run once, under the epoch that replaced it while it waited', async () => {
  await sendAhead(1, 400);
  await sendAhead(2, 400);
  await vi.waitFor(() => expect(finals).toHaveLength(1), { timeout: 10_000 });
  expect(started).toEqual([{ instanceId: '7', signalAborted: false }]);
  expect(finals).toEqual([{ instanceId: '7', epoch: 2, status: 'SUCCEEDED' }]);
});
