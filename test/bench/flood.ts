import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { ApiClient } from '../../packages/server/test/support/api-client.js';
import { spawnDrover } from '../harness/drover-process.js';
import { startFlood } from '../harness/flood.js';
import { rssMb } from '../harness/memory-trend.js';
import { startNatsServer } from '../harness/nats-server.js';
import { startPostgres } from '../harness/postgres.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';
import { serviceStats } from '../harness/service-stats.js';
import { startTogether } from '../harness/start-together.js';
import { databaseUrl } from '../harness/template.js';
import { quantile, round } from './stats.js';

// Flood benchmark: the latency of real standalone runs (API call → SUCCEEDED
// seen by polling) and the server's memory, first quiet, then while a client
// publishes forged and garbage messages at BENCH_FLOOD_RATE (10,000) msg/s at
// the server's and a worker's subjects (test/harness/flood.ts).

const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const RATE = Number(process.env.BENCH_FLOOD_RATE ?? 10_000);

function peakRssMb(pid: number | undefined): number | null {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return line ? Math.round(Number(line[1]) / 1024) : null;
}

async function runOnce(api: ApiClient, app: string, jobId: string): Promise<number> {
  const t0 = performance.now();
  const run = await api.post(`/api/v1/apps/${app}/jobs/${jobId}/run`, {});
  for (;;) {
    const res = await api.get(`/api/v1/apps/${app}/instances/${run.body.id}`);
    if (res.body.status === 'SUCCEEDED') return performance.now() - t0;
    if (['FAILED', 'STOPPED', 'CANCELED'].includes(res.body.status))
      throw new Error(`run ${run.body.id} ended ${res.body.status}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function latencies(api: ApiClient, app: string, jobId: string) {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push(await runOnce(api, app, jobId));
  ms.sort((a, b) => a - b);
  return {
    p50: round(quantile(ms, 0.5)),
    p99: round(quantile(ms, 0.99)),
    max: round(ms.at(-1) ?? 0),
  };
}

export async function benchFlood(): Promise<Record<string, unknown>> {
  const [nats, postgres] = await startTogether(startNatsServer, () => startPostgres());
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  const server = await spawnDrover(
    'server',
    ['--http-port', '0'],
    {
      DROVER_NATS_URL: nats.url,
      DROVER_DATABASE_URL: databaseUrl(postgres.adminUrl, 'bench'),
      DROVER_LOG_LEVEL: 'info',
      DROVER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      // The bench's own nats-server, on loopback, has no authorization.
      DROVER_INSECURE_NATS: '1',
    },
    /"msg":"server ready"/,
  );
  const serverUrl = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  const app = `bench_${randomBytes(3).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  await new ApiClient(serverUrl, BENCH_ADMIN_TOKEN).post('/api/v1/apps', { name: app, secret });
  const api = new ApiClient(serverUrl, secret);
  const workers: ReadyProcess[] = [];
  const nc = await connect({ servers: nats.url });
  try {
    for (const id of ['bench-w1', 'bench-w2']) {
      workers.push(
        await spawnDrover(
          'worker',
          ['--processors', 'test/fixtures/processors.ts', '--worker-id', id],
          { DROVER_NATS_URL: nats.url, DROVER_APP: app, DROVER_INSECURE_NATS: '1' },
          /"msg":"drover-worker running"/,
        ),
      );
    }
    for (;;) {
      const res = await api.get(`/api/v1/apps/${app}/workers`);
      if (res.body.workers?.length === 2) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const job = await api.post(`/api/v1/apps/${app}/jobs`, {
      name: 'noop',
      processorName: 'noop',
      timeExpressionType: 'API',
    });
    await latencies(api, app, job.body.id); // warm-up
    const quiet = {
      runMs: await latencies(api, app, job.body.id),
      serverRssMb: round(rssMb(server.child.pid)),
    };

    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(rssMb(server.child.pid)), 100);
    const flood = startFlood(
      nc,
      { app, workerId: 'bench-w1' },
      { perSecond: RATE, durationMs: 10 * 60_000 },
    );
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 2_000)); // the flood under way before measuring
    let flooded: Awaited<ReturnType<typeof latencies>>;
    try {
      flooded = await latencies(api, app, job.body.id);
    } finally {
      flood.stop();
      clearInterval(sampler);
    }
    const seconds = (performance.now() - t0) / 1000;
    const [stats] = await serviceStats(nc, 'drover-server', 1);
    const routes = Object.fromEntries(
      (stats?.endpoints ?? [])
        .filter((e) => e.data?.route)
        .map((e) => [e.name, { errors: e.num_errors, shed: e.data?.route?.shed }]),
    );
    return {
      bench: 'flood',
      runs: RUNS,
      quiet,
      flood: {
        msgPerSecond: Math.round(flood.sent / seconds),
        seconds: round(seconds),
        runMs: flooded,
        serverRssMb: { max: round(Math.max(...rss)), peakHwm: peakRssMb(server.child.pid) },
        serverRoutes: routes,
      },
      node: process.version,
    };
  } finally {
    await nc.close();
    await Promise.all(workers.map((w) => stopProcess(w, 'SIGKILL')));
    await stopProcess(server);
    await Promise.all([nats.stop(), postgres.stop()]);
  }
}
