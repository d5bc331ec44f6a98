import { routes } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { startTcpProxy, type TcpProxy } from '../../../test/harness/tcp-proxy.js';
import { basicProcessor, type DroverWorker, startWorker } from '../src/index.js';
import { standaloneRun } from './support/standalone-run.js';

// A worker cut off from NATS may have been found lost meanwhile and its run
// given to another worker: once it is back, its TaskTracker reports at once
// (not at its next 5 s beat), learns its epoch is stale, and stops the run.

const nats = useNats();
let proxy: TcpProxy;
let worker: DroverWorker;
let stale = false;
const reports: { status: string; at: number }[] = [];
let abortedAt: (at: number) => void = () => {};
const stopped = new Promise<number>((resolve) => {
  abortedAt = resolve;
});

beforeAll(async () => {
  // The test plays the server: it answers progress reports, and says "stale" once told to.
  nats.bus.handle(routes.server.reportInstanceStatus, { app: nats.app }, (req) => {
    reports.push({ status: req.status, at: Date.now() });
    if (req.status !== 'RUNNING') return { accepted: true, stop: false };
    return stale
      ? { accepted: false, stop: true, reason: `stale epoch ${req.epoch}, current is 2` }
      : { accepted: true, stop: false };
  });
  // Final reports come batched.
  nats.bus.handle(routes.server.reportFinals, { app: nats.app }, (req) => ({
    results: req.reports.map((r) => {
      reports.push({ status: r.status, at: Date.now() });
      return { instanceId: r.instanceId, accepted: true, stop: false };
    }),
  }));
  await nats.nc.flush();
  proxy = await startTcpProxy(Number(new URL(natsUrl()).port));
  worker = await startWorker({
    natsUrl: `nats://127.0.0.1:${proxy.port}`,
    insecureNats: true, // the suite's shared NATS has no authentication
    app: nats.app,
    workerId: 'cut-off',
    processors: [
      basicProcessor({
        name: 'waits',
        process: (ctx) =>
          new Promise<string>((_resolve, reject) => {
            ctx.signal.addEventListener(
              'abort',
              () => {
                abortedAt(Date.now());
                reject(ctx.signal.reason);
              },
              { once: true },
            );
          }),
      }),
    ],
    log: testLogger('cut-off'),
  });
});
afterAll(async () => {
  await worker.stop();
  await proxy.close();
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not yet: ${JSON.stringify(reports)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a worker back on NATS after a cut', () => {
  it('reports its runs at once and stops one that is no longer its own', async () => {
    const accepted = await nats.bus.ask(
      routes.tt.runJob,
      { app: nats.app, workerId: 'cut-off' },
      standaloneRun('1', 'waits'),
    );
    expect(accepted.accepted).toBe(true);
    // Its first beat comes INSTANCE_REPORT_MS (5 s) after the start.
    const startedAt = Date.now();

    // Meanwhile a server gave the run to another worker (epoch 2); cut this one off and let it back.
    stale = true;
    proxy.disable();
    proxy.enable();
    const cutAt = Date.now();

    const at = await stopped;
    // Its first beat would only come 5 s after the start: the report at once
    // on reconnect learned it is stale. (Its processor's abort is the stop.)
    expect(
      at - cutAt,
      JSON.stringify(reports.map((r) => ({ ...r, at: r.at - cutAt }))),
    ).toBeLessThan(3_000);
    expect(at - startedAt).toBeLessThan(4_500);
    expect(reports[0]?.status).toBe('RUNNING');
    await until(() => reports.at(-1)?.status === 'STOPPED');
  }, 20_000);
});
