import { Writable } from 'node:stream';
import { routes } from '@drover/protocol';
import { Bus, connectNats } from '@drover/transport';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '../../../test/harness/logger.js';
import { type NatsServer, startNatsServer } from '../../../test/harness/nats-server.js';
import { checkSecret, UNLISTED_MS } from '../src/runtime/secret-check.js';

// A server older than check_worker_secret (a rolling upgrade) answers only
// query_cluster, listing the workers whose heartbeat it accepted. The check
// stops asking once it is listed (or after UNLISTED_MS), instead of retrying
// and warning forever. Its own nats-server: the shared one carries real
// servers of other test files, which answer the check for every app.

let nats: NatsServer;
let olderServer: Bus;
let workerBus: Bus;
const listed = new Set<string>();
let clusterAsks = 0;
const APP = 'rolling';

function capture() {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      warnings.push((JSON.parse(String(chunk)) as { msg: string }).msg);
      done();
    },
  });
  return { warnings, log: pino({ level: 'warn' }, sink) };
}

const request = (workerId: string) => ({ app: APP, workerId, secret: 's3cret' });

beforeAll(async () => {
  nats = await startNatsServer();
  const connect = async (name: string) =>
    new Bus(
      await connectNats({ servers: nats.url, name, log: testLogger(name), insecureNats: true }),
      testLogger(name),
    );
  olderServer = await connect('older-server');
  workerBus = await connect('worker');
  olderServer.handle(routes.server.queryCluster, { app: APP }, () => {
    clusterAsks += 1;
    return {
      workers: [...listed].map((workerId) => ({
        workerId,
        version: '0.0.0-older',
        tags: [],
        lastSeenAt: Date.now(),
        metrics: {
          cpuLoad: 0,
          cpuCores: 1,
          memoryUsedBytes: 0,
          memoryTotalBytes: 1,
          freeSlots: 1,
          totalSlots: 1,
        },
      })),
    };
  });
  await olderServer.nc.flush();
});
afterAll(async () => {
  await workerBus?.nc.close();
  await olderServer?.nc.close();
  await nats?.stop();
});

describe('secret check against a server without check_worker_secret', () => {
  it('stops asking once that server lists the worker (its heartbeat was accepted)', async () => {
    const { warnings, log } = capture();
    const abort = new AbortController();
    const check = checkSecret(workerBus, request('listed-1'), nats.url, log, abort.signal);
    await check.firstTry;
    listed.add('listed-1'); // as the worker's first heartbeat would
    await expect(check.verdict).resolves.toBe('heartbeat-accepted');
    const asks = clusterAsks;
    expect(warnings.filter((w) => w.includes('no server answered'))).toEqual([]);
    // Settled: nothing asks again (a round trip later the count is the same).
    await olderServer.nc.flush();
    await workerBus.nc.flush();
    expect(clusterAsks).toBe(asks);
    abort.abort();
  });

  it('gives up without a verdict (no warning stream) when never listed', async () => {
    const { warnings, log } = capture();
    const abort = new AbortController();
    const t0 = Date.now();
    const check = checkSecret(workerBus, request('unlisted-1'), nats.url, log, abort.signal);
    await expect(check.verdict).resolves.toBe('unconfirmed');
    // The documented bound: UNLISTED_MS, then at most one backoff step (5 s), + 1 s slack.
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(UNLISTED_MS);
    expect(took).toBeLessThanOrEqual(UNLISTED_MS + 5_000 + 1_000);
    expect(warnings.filter((w) => w.includes('no server answered'))).toEqual([]);
    abort.abort();
  }, 30_000);

  it('keeps asking through an outage (no server at all answers)', async () => {
    const { warnings, log } = capture();
    const abort = new AbortController();
    const check = checkSecret(
      workerBus,
      { app: 'no-server-here', workerId: 'w', secret: 's' },
      nats.url,
      log,
      abort.signal,
    );
    await check.firstTry;
    expect(warnings.some((w) => w.includes('no server answered the secret check'))).toBe(true);
    abort.abort();
    await expect(check.verdict).rejects.toThrow();
  });
});
