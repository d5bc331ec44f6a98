import { decode, ErrorCode, encode, RemoteError, routes } from '@drover/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler } from '../src/index.js';

// A handler bounds what it holds: `maxInFlight` running, `maxQueued` waiting;
// anything beyond is answered BUSY (retryable) at once, never queued without
// limit, and counted where `$SRV.STATS` shows it.

const nats = useNats();
const handlers: Handler[] = [];
const release: Array<() => void> = [];
afterAll(async () => {
  for (const next of release.splice(0)) next(); // a failed test leaves none hanging
  await Promise.all(handlers.map((h) => h.stop()));
});

// A map header promising 5 entries, then 3 bytes.
const TRUNCATED = new Uint8Array([0x85, 0xaa, 0x69, 0x6e]);
const stopRequest = (i: number) => ({ instanceId: String(i), reason: 'test' });

describe('load shedding', () => {
  it('answers BUSY at once beyond its slots and queue, and serves the rest', async () => {
    const server = await nats.connect('shed-server');
    const address = { app: nats.app, workerId: 'shed-1' };
    let started = 0;
    handlers.push(
      server.handle(
        routes.tt.stopInstance,
        address,
        async () => {
          started++;
          await new Promise<void>((resolve) => release.push(resolve));
          return { stopped: true };
        },
        { maxInFlight: 2, maxQueued: 3 },
      ),
    );
    await server.nc.flush();

    const settled = Array.from({ length: 10 }, (_, i) =>
      nats.bus.ask(routes.tt.stopInstance, address, stopRequest(i)).then(
        () => 'ok' as const,
        (err: unknown) => err,
      ),
    );
    // 2 run, 3 wait, 5 are shed: the shed ones are answered while the others still hang.
    const busy = await Promise.all(settled.slice(5));
    for (const err of busy) {
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe(ErrorCode.BUSY);
      expect((err as RemoteError).retryable).toBe(true);
    }
    expect(started).toBe(2);
    // Released, the queued ones run in turn and every accepted ask succeeds.
    while (started < 5 || release.length > 0) {
      const next = release.shift();
      if (next) next();
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(settled.slice(0, 5))).toEqual(Array(5).fill('ok'));
    const counters = server.routeStats.get(handlers[0]?.subject ?? '');
    expect(counters).toMatchObject({ shed: 5, errors: 5 });
  });

  it('counts bad msgpack, invalid, refused and shed messages as endpoint errors in $SRV.STATS', async () => {
    const server: Bus = await nats.connect('stats-server');
    const name = `drover-test-${nats.app}`;
    const monitoring = await server.startMonitoring({
      name,
      version: '0.0.0',
      description: 'stats test',
      metadata: {},
    });
    const address = { app: nats.app, workerId: 'stats-1' };
    const handler = server.handle(routes.tt.stopInstance, address, (req, ctx) => {
      if (req.instanceId === '999') ctx.refused('unknown instance');
      return { stopped: false };
    });
    handlers.push(handler);
    await server.nc.flush();

    const nc = nats.bus.nc;
    await nc.request(handler.subject, TRUNCATED, { timeout: 5_000 }); // not msgpack
    await nc.request(handler.subject, encode({ instanceId: 42 }), { timeout: 5_000 }); // invalid
    await nc.request(handler.subject, encode(stopRequest(7)), { timeout: 5_000 }); // fine
    await nc.request(handler.subject, encode(stopRequest(999)), {
      timeout: 5_000,
    });

    const reply = await nc.request(`$SRV.STATS.${name}`, undefined, { timeout: 5_000 });
    const stats = JSON.parse(new TextDecoder().decode(reply.data)) as {
      endpoints: Array<{ subject: string; num_errors: number; data: { route?: object } }>;
    };
    const endpoint = stats.endpoints.find((e) => e.subject === handler.subject);
    expect(endpoint?.num_errors).toBe(3);
    expect(endpoint?.data.route).toMatchObject({
      requests: 4,
      badMsgpack: 1,
      invalid: 1,
      refused: 1,
      shed: 0,
    });
    // The reply to garbage is still a proper error envelope.
    const garbage = await nc.request(handler.subject, TRUNCATED, { timeout: 5_000 });
    expect(decode(garbage.data)).toMatchObject({ ok: false });
    await monitoring.stop();
  });
});
