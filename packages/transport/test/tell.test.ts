import type { serverMessages } from '@drover/protocol';
import { routes } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler } from '../src/index.js';

const nats = useNats();
let serverA: Bus;
let serverB: Bus;
const handlers: Handler[] = [];

beforeAll(async () => {
  serverA = await nats.connect('server-a');
  serverB = await nats.connect('server-b');
});
afterAll(async () => {
  await Promise.all(handlers.map((h) => h.stop()));
});

function heartbeat(workerId: string): z.input<typeof serverMessages.WorkerHeartbeat> {
  return {
    app: nats.app,
    workerId,
    incarnation: 'incarnation-1',
    seq: 1,
    version: '0.1.0',
    tags: ['gpu'],
    processors: ['sum'],
    startedAt: 1,
    sentAt: 2,
    metrics: {
      cpuLoad: 0.5,
      cpuCores: 2,
      memoryUsedBytes: 1,
      memoryTotalBytes: 2,
      freeSlots: 4,
      totalSlots: 8,
    },
    trackedInstances: [],
  };
}

describe('tell', () => {
  it('delivers a heartbeat to every server, and a queued report to one', async () => {
    const beats: string[] = [];
    const reports: string[] = [];
    const waiters = new Map<number, () => void>();
    const beatsReach = (n: number) =>
      new Promise<void>((resolve) => {
        if (beats.length >= n) resolve();
        else waiters.set(n, resolve);
      });
    for (const [name, bus] of [
      ['a', serverA],
      ['b', serverB],
    ] as const) {
      handlers.push(
        bus.handle(routes.server.workerHeartbeat, { app: nats.app }, (hb) => {
          beats.push(`${name}:${hb.workerId}`);
          waiters.get(beats.length)?.();
          return null;
        }),
        bus.handle(routes.server.reportLog, { app: nats.app }, (req) => {
          reports.push(`${name}:${req.batchId}`);
          return { stored: req.lines.length };
        }),
      );
      await bus.nc.flush();
    }
    nats.bus.tell(routes.server.workerHeartbeat, { app: nats.app }, heartbeat('w1'));
    await beatsReach(2);
    expect([...beats].sort()).toEqual(['a:w1', 'b:w1']);

    const reply = await nats.bus.ask(
      routes.server.reportLog,
      { app: nats.app },
      {
        instanceId: '1',
        workerId: 'w1',
        batchId: 'batch-1',
        lines: [{ ts: 1, level: 'info', message: 'hello' }],
      },
    );
    expect(reply).toEqual({ stored: 1 });
    // Once a later message has reached both servers, the report cannot still be on its way to a second one.
    nats.bus.tell(routes.server.workerHeartbeat, { app: nats.app }, heartbeat('w2'));
    await beatsReach(4);
    expect(reports).toHaveLength(1);
  });
});
