import { routes, workerStatusSubject } from '@drover/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, mapProcessor, startWorker } from '../src/index.js';

// A ProcessorTracker whose TaskTracker went away after its last results must
// not live (and heartbeat) forever: with no work for its idle bound, it stops.

const nats = useNats();
let worker: DroverWorker;
const reported: string[] = [];

beforeAll(async () => {
  worker = await startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: 'idle-pt',
    processors: [
      mapProcessor({ name: 'quick', process: () => 'done' }),
      basicProcessor({ name: 'unused', process: () => '' }),
    ],
    processorTrackerIdleMs: 300,
    log: testLogger('idle-pt'),
  });
  // A TaskTracker stand-in that takes one batch of results, then is never heard from again.
  nats.bus.handle(routes.tt.reportTaskStatus, { app: nats.app, workerId: 'gone-tt' }, (req) => {
    reported.push(...req.results.map((r) => r.taskId));
    return { applied: req.results.length };
  });
  await nats.nc.flush();
});
afterAll(() => worker.stop());
afterEach(() => {
  vi.useRealTimers();
});

async function processorTrackers(): Promise<number> {
  const reply = await nats.nc.request(workerStatusSubject(nats.app, 'idle-pt'), '', {
    timeout: 3_000,
  });
  return (reply.json() as { processorTrackers: number }).processorTrackers;
}

function startTasks(instanceId: string, taskId: string) {
  return nats.bus.ask(
    routes.pt.startTasks,
    { app: nats.app, workerId: 'idle-pt' },
    {
      instanceId,
      epoch: 1,
      taskTrackerWorkerId: 'gone-tt',
      processorName: 'quick',
      jobId: '7',
      concurrency: 2,
      jobParams: null,
      instanceParams: null,
      tasks: [{ taskId, taskName: 'leaf', attempt: 1, payload: null }],
    },
  );
}

describe('idle ProcessorTracker', () => {
  it('stops once it has had nothing to do for its idle bound', async () => {
    const reply = await startTasks('42', 'root.1.0');
    expect(reply.accepted).toBe(1);
    expect(await processorTrackers()).toBe(1);
    for (;;) {
      if (reported.includes('root.1.0') && (await processorTrackers()) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(reported).toEqual(['root.1.0']);
  });

  it('stops on its idle bound even when the wall clock steps back 10 minutes', async () => {
    // Only Date moves (as when time sync steps the clock); timers keep real time.
    vi.useFakeTimers({ toFake: ['Date'] });
    expect((await startTasks('43', 'root.2.0')).accepted).toBe(1);
    vi.setSystemTime(Date.now() - 600_000);
    for (;;) {
      if (reported.includes('root.2.0') && (await processorTrackers()) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
