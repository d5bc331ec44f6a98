import { encode, routes } from '@drover/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Handler, Monitoring } from '../src/index.js';

// `$SRV.STATS` answers what the handlers did: every request (also one asked
// in process, which never crosses NATS), its errors, and the time spent
// handling it — not the library's own count, which sees neither.

const nats = useNats();
const stops: Array<Handler | Monitoring> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s.stop();
});

interface Endpoint {
  subject: string;
  num_requests: number;
  num_errors: number;
  processing_time: number;
  average_processing_time: number;
}

describe('$SRV.STATS', () => {
  it('counts requests over NATS and in process, errors, and processing time', async () => {
    const server = await nats.connect('stats-counts');
    const name = `drover-stats-${nats.app}`;
    const monitoring = await server.startMonitoring({
      name,
      version: '0.0.0',
      description: 'stats counts test',
      metadata: {},
    });
    stops.push(monitoring);
    const address = { app: nats.app, workerId: 'stats-counts-1' };
    const handler = server.handle(routes.tt.stopInstance, address, async () => {
      // Work that takes a while: STATS must show it, not the microseconds of a callback.
      await new Promise<void>((resolve) => setTimeout(resolve, 25));
      return { stopped: true };
    });
    stops.push(handler);
    await server.nc.flush();

    const request = { instanceId: '1', reason: 'test' };
    const nc = nats.bus.nc;
    await nc.request(handler.subject, encode(request), { timeout: 5_000 }); // over NATS
    await nc.request(handler.subject, encode({ instanceId: 7 }), { timeout: 5_000 }); // invalid
    await server.ask(routes.tt.stopInstance, address, request); // in process: no NATS message

    const reply = await nc.request(`$SRV.STATS.${name}`, undefined, { timeout: 5_000 });
    const stats = reply.json<{ endpoints: Endpoint[] }>();
    const endpoint = stats.endpoints.find((e) => e.subject === handler.subject);
    expect(endpoint).toMatchObject({ num_requests: 3, num_errors: 1 });
    // Two handled requests waited 25 ms each (timers fire no earlier; 1 ms of rounding allowed).
    expect(endpoint?.processing_time).toBeGreaterThanOrEqual(2 * 24e6);
    expect(endpoint?.average_processing_time).toBe(
      Math.round((endpoint?.processing_time ?? 0) / 3),
    );
  });
});
