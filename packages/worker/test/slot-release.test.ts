import { routes } from '@drover/protocol';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { acceptReports } from './support/accept-reports.js';
import { standaloneRun } from './support/standalone-run.js';

// A standalone run's slot frees when its processor is done, not when the
// server acknowledges its final report: a burst queued on a worker flows at
// processor speed while the finals travel in batches behind it.

const nats = useNats();
const WORKER = 'slots-1';
let worker: DroverWorker;
const started: string[] = [];
const finals: string[] = [];
// Acknowledgements of report_finals held back by the test (the server is slow).
const held: (() => void)[] = [];
let holding = true;
const releaseAll = () => {
  holding = false;
  for (const release of held.splice(0)) release();
};

const run = (instanceId: string) => standaloneRun(instanceId, 'quick');

beforeAll(async () => {
  acceptReports(nats.bus, nats.app, (reports) => {
    finals.push(...reports.map((r) => r.instanceId));
    if (holding) return new Promise<void>((resolve) => held.push(resolve));
  });
  await nats.nc.flush();
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: WORKER,
    concurrency: 1,
    processors: [
      basicProcessor({
        name: 'quick',
        process: (ctx) => {
          started.push(ctx.instanceId);
          return 'done';
        },
      }),
    ],
    log: testLogger(WORKER),
  });
});
afterAll(async () => {
  releaseAll();
  await worker.stop();
});

it('starts the next queued run while the finished one’s final report is unacknowledged', async () => {
  const answer = await nats.bus.ask(
    routes.tt.runJobs,
    { app: nats.app, workerId: WORKER },
    { runs: [run('1'), run('2'), run('3')] },
  );
  expect(answer.results.map((r) => r.accepted)).toEqual([true, true, true]);
  // One slot: each run starts after the one before it ended, though no final
  // report has been acknowledged yet.
  await vi.waitFor(() => expect(started).toEqual(['1', '2', '3']), { timeout: 10_000 });
  // The server answers at last: every final arrives (a held batch may come twice, as retried).
  releaseAll();
  await vi.waitFor(() => expect(new Set(finals)).toEqual(new Set(['1', '2', '3'])), {
    timeout: 10_000,
  });
});
