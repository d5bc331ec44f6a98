import { routes } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Handler } from '../src/index.js';

const nats = useNats();
let handler: Handler;
let peak = 0;

beforeAll(async () => {
  const server = await nats.connect('server');
  let inFlight = 0;
  handler = server.handle(
    routes.tt.mapTask,
    { app: nats.app, workerId: 'c1' },
    async (req) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => setImmediate(resolve));
      inFlight--;
      return { stored: Number(req.batchId.slice(1)), duplicate: false };
    },
    { maxInFlight: 64 },
  );
  await server.nc.flush();
});
afterAll(() => handler.stop());

describe('concurrency', () => {
  it('answers 1,000 concurrent asks, each with its own reply', async () => {
    const replies = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        nats.bus.ask(
          routes.tt.mapTask,
          { app: nats.app, workerId: 'c1' },
          {
            instanceId: '1',
            batchId: `b${i}`,
            parentTaskId: 'root',
            taskName: 't',
            tasks: [{ taskId: `t${i}`, payload: i }],
          },
        ),
      ),
    );
    expect(replies.map((r) => r.stored)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    // Handlers overlap, but never beyond the bound that keeps memory flat.
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(64);
  });
});
