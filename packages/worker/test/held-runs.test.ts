import { routes } from '@drover/protocol';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { acceptReports } from './support/accept-reports.js';
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
  acceptReports(nats.bus, nats.app, (reports) => {
    finals.push(
      ...reports.map((r) => ({ instanceId: r.instanceId, epoch: r.epoch, status: r.status })),
    );
  });
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

// Dispatch batches say when their sender measured `startInMs` (`sentAt`, on
// its clock `senderClock`). Against the quickest recent batch of that clock,
// a batch that spent longer on the way starts its runs that much sooner
// after receipt, so the delay is not added to their start.
const sendTimed = (id: string, startInMs: number, sentAt: number) =>
  nats.bus.ask(
    routes.tt.runJobs,
    { app: nats.app, workerId: WORKER },
    { runs: [{ ...standaloneRun(id, 'note', 1), startInMs }], sentAt, senderClock: 'server-a.0' },
  );

it('counts startInMs from when a delayed batch would have arrived, not from its receipt', async () => {
  await sendTimed('20', 50, Date.now()); // a quick batch: the floor
  // Sent together: '21' says it was sent 45 ms ago (it waited on the way),
  // '22' has no delay and starts 20 ms later than '21' would from receipt.
  await Promise.all([sendTimed('21', 300, Date.now() - 45), sendTimed('22', 280, Date.now())]);
  await vi.waitFor(() => expect(startedIds(['20', '21', '22'])).toHaveLength(3), {
    timeout: 10_000,
  });
  expect(startedIds(['20', '21', '22'])).toEqual(['20', '21', '22']);
});

it('takes a batch that seems delayed past the bound for a clock step: counted from receipt', async () => {
  await sendTimed('30', 50, Date.now());
  // '31' claims 5 s on the way (the sender's clock stepped back): corrected,
  // it would start at once, before '32'.
  await Promise.all([sendTimed('31', 300, Date.now() - 5_000), sendTimed('32', 250, Date.now())]);
  await vi.waitFor(() => expect(startedIds(['30', '31', '32'])).toHaveLength(3), {
    timeout: 10_000,
  });
  expect(startedIds(['30', '31', '32'])).toEqual(['30', '32', '31']);
});

const startedIds = (ids: string[]) =>
  started.map((s) => s.instanceId).filter((id) => ids.includes(id));
