import { routes } from '@drover/protocol';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { acceptReports } from './support/accept-reports.js';
import { standaloneRun } from './support/standalone-run.js';

// Runs that end at once free their slot within the turn they started in. The
// queued runs behind them start in later turns of the event loop, a slot's
// worth at a time: a queue of thousands must not hold up the worker's timers,
// heartbeats and NATS I/O in one turn.

const nats = useNats();
const WORKER = 'queued-1';
const RUNS = 300;
let worker: DroverWorker;
let finals = 0;
// Counts turns of the event loop: an immediate that queues itself runs once a turn.
let turn = 0;
let counting = true;
const countTurns = () => {
  turn++;
  if (counting) setImmediate(countTurns);
};
const startedInTurn: number[] = [];

beforeAll(async () => {
  acceptReports(nats.bus, nats.app, (reports) => {
    finals += reports.length;
  });
  await nats.nc.flush();
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: WORKER,
    concurrency: 1,
    maxQueuedRuns: RUNS,
    // In process: a run ends within the turn it started in.
    processors: [
      basicProcessor({
        name: 'quick',
        process: () => {
          startedInTurn.push(turn);
          return 'done';
        },
      }),
    ],
    log: testLogger(WORKER),
  });
});
afterAll(async () => {
  counting = false;
  await worker.stop();
});

it('starts queued runs a freed slot at a time, each in a later turn of the event loop', async () => {
  countTurns();
  const runs = Array.from({ length: RUNS }, (_, i) => standaloneRun(String(i + 1), 'quick'));
  const answer = await nats.bus.ask(
    routes.tt.runJobs,
    { app: nats.app, workerId: WORKER },
    { runs },
  );
  expect(answer.results.every((r) => r.accepted)).toBe(true);
  await vi.waitFor(() => expect(finals).toBe(RUNS), { timeout: 20_000 });
  expect(startedInTurn).toHaveLength(RUNS);
  // One slot: no two runs started in the same turn.
  expect(new Set(startedInTurn).size).toBe(RUNS);
});
