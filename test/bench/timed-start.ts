import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { decode, encode, routeSubject, routes } from '@drover/protocol';
import { Bus } from '@drover/transport';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
// The built worker, as users run it (tsx's keepNames wrappers would cost a third of a start).
import { startWorker } from '../../packages/worker/dist/index.js';
import { stamp } from '../fixtures/processors.js';
import { startNatsServer } from '../harness/nats-server.js';
import { wallNow } from './peer-cluster.js';
import { quantile, round } from './stats.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/processors.ts', import.meta.url));

// How on time a worker starts a fleet of timed runs due at the same instant
// (CRON slots sent ahead with `startInMs`): BENCH_TIMED_RUNS (1,000) runs in
// one run_jobs, due BENCH_TIMED_LEAD_MS (500) after sending; the figure is
// each processor's start minus that instant. In-process worker (the built
// one) running the fixtures' `stamp` processor, in BENCH_THREADS processor
// threads (default: one per core, as drover-worker; 0: the main thread); a
// stand-in server on the bus accepts the worker and takes the final reports,
// whose results are the start times (no Postgres: the worker alone is measured).

export async function benchTimedStart(): Promise<Record<string, unknown>> {
  const runs = Number(process.env.BENCH_TIMED_RUNS ?? 1_000);
  const leadMs = Number(process.env.BENCH_TIMED_LEAD_MS ?? 500);
  const rounds = Number(process.env.BENCH_TIMED_ROUNDS ?? 5);
  const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
  const started = new Map<string, number>();
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const server = new Bus(nc, pino({ level: 'warn' }));
  const app = { app: 'bench' };
  const handlers = [
    server.handle(routes.server.checkWorker, app, () => ({ accepted: true })),
    server.handle(routes.server.workerHeartbeat, app, () => null),
    server.handle(routes.server.reportFinals, app, (req) => {
      for (const r of req.reports) started.set(r.instanceId, Number(r.result));
      return {
        results: req.reports.map((r) => ({
          instanceId: r.instanceId,
          accepted: true,
          stop: false,
        })),
      };
    }),
  ];
  // Processor threads resolve the workspace packages to their built code, as
  // drover-worker's do (the bench itself runs with the drover-source condition).
  process.execArgv = process.execArgv.filter((flag) => !flag.includes('drover-source'));
  const worker = await startWorker({
    natsUrl: nats.url,
    insecureNats: true,
    app: 'bench',
    workerId: 'timed-1',
    concurrency: runs,
    processors: [stamp],
    processorsModule: FIXTURES,
    threads,
    logger: pino({ level: 'warn' }),
  });
  const lateness: number[] = [];
  try {
    let next = 1;
    for (let r = 0; r < rounds; r++) {
      started.clear();
      const batch = Array.from({ length: runs }, () => ({
        instanceId: String(next++),
        epoch: 1,
        jobId: '1',
        executeType: 'STANDALONE' as const,
        processorName: 'stamp',
        jobParams: null,
        instanceParams: null,
        timeoutMs: 60_000,
        taskRetry: {
          maximumAttempts: 1,
          initialIntervalMs: 0,
          backoffCoefficient: 1,
          maximumIntervalMs: 0,
        },
        workers: ['timed-1'],
        logLevel: 'info' as const,
        startInMs: leadMs,
      }));
      const dueAt = wallNow() + leadMs;
      const reply = decode(
        (
          await nc.request(
            routeSubject(routes.tt.runJobs, { app: 'bench', workerId: 'timed-1' }),
            encode({ runs: batch }),
            { timeout: 10_000 },
          )
        ).data,
      ) as { ok: boolean };
      if (!reply.ok) throw new Error(`run_jobs refused: ${JSON.stringify(reply)}`);
      const until = Date.now() + leadMs + 30_000;
      while (started.size < runs && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 50));
      for (const at of started.values()) lateness.push(at - dueAt);
    }
  } finally {
    await worker.stop().catch(() => undefined);
    await Promise.all(handlers.map((h) => h.stop()));
    await nc.close();
    await nats.stop();
  }
  lateness.sort((a, b) => a - b);
  return {
    bench: 'timed-start',
    runsAtOnce: runs,
    rounds,
    threads,
    startedVsDueMs: {
      min: round(lateness[0] ?? Number.NaN, 2),
      p50: round(quantile(lateness, 0.5), 2),
      p99: round(quantile(lateness, 0.99), 2),
      max: round(lateness[lateness.length - 1] ?? Number.NaN, 2),
    },
    node: process.version,
  };
}
