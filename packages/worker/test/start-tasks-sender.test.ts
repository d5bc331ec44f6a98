import { encode, routes } from '@drover/protocol';
import type { Bus } from '@drover/transport';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import { StartTasksSender } from '../src/tracker/start-tasks-sender.js';
import type { DispatchedTask } from '../src/tracker/task-store.js';

// start_tasks over real NATS: messages cut by bytes stay under max_payload,
// the run's params go once per ProcessorTracker, and a ProcessorTracker that
// lost them (stopped idle) gets them again.

const nats = useNats();
let pt: Bus;
const seen: { bytes: number; params: boolean; tasks: string[] }[] = [];
let hasParams = false;

const run = {
  instanceId: '7',
  epoch: 1,
  jobId: '3',
  executeType: 'MAP_REDUCE' as const,
  processorName: 'p',
  jobParams: { big: 'j'.repeat(200_000) },
  instanceParams: { big: 'i'.repeat(250_000) },
  timeoutMs: 0,
  taskRetry: {
    maximumAttempts: 1,
    initialIntervalMs: 0,
    backoffCoefficient: 1,
    maximumIntervalMs: 0,
  },
  concurrencyPerWorker: 10,
  workers: ['pt-1'],
  logLevel: 'info' as const,
};

const tasks = (from: number, n: number): DispatchedTask[] =>
  Array.from({ length: n }, (_, i) => ({
    taskId: `root.1.${from + i}`,
    taskName: 'big',
    attempt: 1,
    payload: 'p'.repeat(250_000),
  }));

beforeAll(async () => {
  pt = await nats.connect('pt');
  // A ProcessorTracker as the worker serves it: made by a message with params.
  pt.handle(routes.pt.startTasks, { app: nats.app, workerId: 'pt-1' }, (req) => {
    seen.push({
      bytes: encode(req).byteLength,
      params: !req.paramsOmitted,
      tasks: req.tasks.map((t) => t.taskId),
    });
    if (req.paramsOmitted && !hasParams) return { accepted: 0, needsParams: true };
    hasParams = true;
    return { accepted: req.tasks.length };
  });
  await pt.nc.flush();
});

describe('StartTasksSender', () => {
  it('cuts messages by bytes, sends params once, and again to a ProcessorTracker that lost them', async () => {
    const sender = new StartTasksSender(nats.bus, nats.app, 'tt-1', run);
    expect(await sender.send('pt-1', tasks(0, 10))).toEqual([]);
    hasParams = false; // it stopped idle
    expect(await sender.send('pt-1', tasks(10, 3))).toEqual([]);

    const limit = nats.bus.maxPayload;
    expect(seen.every((m) => m.bytes < limit)).toBe(true);
    // The params (450 KB) travel with the first message only, and once more
    // after the ProcessorTracker refused three tasks for want of them.
    expect(seen.map((m) => m.params)).toEqual([true, false, false, false, true, false]);
    expect(seen.map((m) => m.tasks.length)).toEqual([2, 4, 4, 3, 2, 1]);
    const accepted = seen.filter((_m, i) => i !== 3).flatMap((m) => m.tasks);
    expect(accepted).toEqual(tasks(0, 13).map((t) => t.taskId));
  });
});
