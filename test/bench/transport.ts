import { routes } from '@drover/protocol';
import { Bus, connectNats } from '@drover/transport';
import { pino } from 'pino';
import { startNatsServer } from '../harness/nats-server.js';
import { quantile, round } from './stats.js';

// Transport benchmark: ask latency and throughput, tell throughput, through
// the full path (encode, NATS, decode, zod validation, reply).

const log = pino({ level: 'silent' });
const address = { app: 'bench', workerId: 'w1' };
const stop = { instanceId: '1', reason: 'bench' };

async function askLatency(client: Bus, count: number): Promise<{ p50Us: number; p99Us: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await client.ask(routes.tt.stopInstance, address, stop);
    samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  samples.sort((a, b) => a - b);
  return { p50Us: round(quantile(samples, 0.5)), p99Us: round(quantile(samples, 0.99)) };
}

/** The same round trip with the bare NATS client: what our layer adds is the difference. */
async function rawLatency(client: Bus, server: Bus, count: number): Promise<number> {
  const sub = server.nc.subscribe('bench.raw', {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });
  await server.nc.flush();
  const samples: number[] = [];
  const payload = new Uint8Array(32);
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await client.nc.request('bench.raw', payload);
    samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  sub.unsubscribe();
  samples.sort((a, b) => a - b);
  return round(quantile(samples, 0.5));
}

async function askThroughput(client: Bus, inFlight: number, total: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < total) {
      next++;
      await client.ask(routes.tt.stopInstance, address, stop);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return Math.round(total / ((performance.now() - t0) / 1_000));
}

async function tellThroughput(client: Bus, server: Bus, total: number): Promise<number> {
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const handler = server.handle(routes.tt.ptHeartbeat, address, () => {
    if (++received === total) done();
    return null;
  });
  await server.nc.flush();
  const beat = { instanceId: '1', workerId: 'w2', freeSlots: 4, running: 2, sentAt: Date.now() };
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    client.tell(routes.tt.ptHeartbeat, address, beat);
    // Yield now and then so the client's outbound buffer drains as it fills.
    if (i % 1_000 === 999) await client.nc.flush();
  }
  await all;
  const rate = Math.round(total / ((performance.now() - t0) / 1_000));
  await handler.stop();
  return rate;
}

export async function benchTransport(): Promise<Record<string, unknown>> {
  const nats = await startNatsServer();
  try {
    const client = new Bus(
      await connectNats({ servers: nats.url, name: 'client', log, insecureNats: true }),
      log,
    );
    const server = new Bus(
      await connectNats({ servers: nats.url, name: 'server', log, insecureNats: true }),
      log,
    );
    const handler = server.handle(routes.tt.stopInstance, address, () => ({ stopped: true }));
    await server.nc.flush();
    await askThroughput(client, 16, 2_000); // warm-up
    const latency = await askLatency(client, 5_000);
    const rawP50Us = await rawLatency(client, server, 5_000);
    const asksPerSec = {
      inFlight1: await askThroughput(client, 1, 5_000),
      inFlight16: await askThroughput(client, 16, 30_000),
      inFlight256: await askThroughput(client, 256, 50_000),
    };
    await handler.stop();
    const tellsPerSec = await tellThroughput(client, server, 200_000);
    await Promise.all([client.nc.close(), server.nc.close()]);
    return {
      bench: 'transport',
      askRoundTripP50Us: latency.p50Us,
      askRoundTripP99Us: latency.p99Us,
      bareNatsRequestP50Us: rawP50Us,
      asksPerSec,
      tellsPerSec,
      node: process.version,
    };
  } finally {
    await nats.stop();
  }
}
