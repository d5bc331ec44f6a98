import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ApiClient } from '../../packages/server/test/support/api-client.js';
import { spawnDrover } from '../harness/drover-process.js';
import { startNatsServer } from '../harness/nats-server.js';
import { startPostgres } from '../harness/postgres.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';
import { startTogether } from '../harness/start-together.js';
import { databaseUrl } from '../harness/template.js';
import { wallNow } from './peer-cluster.js';
import { quantile, round } from './stats.js';

// App creation needs an admin token; the bench's own server has this one.
const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

// Map-reduce benchmark: no-op map tasks through one TaskTracker and two
// worker processes; run-to-start latency of standalone runs.

/** Peak resident memory of a process, from /proc (Linux). */
function peakRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
    return line ? Math.round(Number(line[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return 0;
  }
}

async function finished(api: ApiClient, app: string, id: string) {
  for (;;) {
    const res = await api.get(`/api/v1/apps/${app}/instances/${id}`);
    if (['SUCCEEDED', 'FAILED', 'STOPPED'].includes(res.body.status)) return res.body;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function benchMapReduce(): Promise<Record<string, unknown>> {
  const sizes = (process.env.BENCH_TASKS ?? '100000,1000000').split(',').map(Number);
  const [nats, postgres] = await startTogether(startNatsServer, () => startPostgres());
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  // The server runs as its own process, as in production: the bench client's
  // polling must not share its event loop.
  const server = await spawnDrover(
    'server',
    ['--http-port', '0'],
    {
      DROVER_NATS_URL: nats.url,
      DROVER_INSECURE_NATS: '1',
      DROVER_DATABASE_URL: databaseUrl(postgres.adminUrl, 'bench'),
      DROVER_LOG_LEVEL: 'info',
      DROVER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    },
    /"msg":"server ready"/,
  );
  const serverUrl = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  const app = `bench_${randomBytes(3).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  await new ApiClient(serverUrl, BENCH_ADMIN_TOKEN).post('/api/v1/apps', { name: app, secret });
  const api = new ApiClient(serverUrl, secret);
  const workers: ReadyProcess[] = [];
  try {
    for (const id of ['bench-w1', 'bench-w2']) {
      workers.push(
        await spawnDrover(
          'worker',
          [
            '--processors',
            'test/fixtures/processors.ts',
            '--worker-id',
            id,
            ...(process.env.BENCH_THREADS ? ['--threads', process.env.BENCH_THREADS] : []),
          ],
          {
            DROVER_NATS_URL: nats.url,
            DROVER_INSECURE_NATS: '1', // a throwaway NATS without authentication
            DROVER_APP: app,
            DROVER_LOG_LEVEL: 'info',
          },
          /"msg":"drover-worker running"/,
          // BENCH_PROF=<dir>: CPU profiles of the worker processes (written on SIGTERM).
          process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
        ),
      );
    }
    for (;;) {
      const res = await api.get(`/api/v1/apps/${app}/workers`);
      if (
        res.body.workers?.filter((w: { processors: string[] }) => w.processors.length).length === 2
      )
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const mr = await api.post(`/api/v1/apps/${app}/jobs`, {
      name: 'noop-map',
      processorName: 'noop-map',
      executeType: 'MAP_REDUCE',
      timeExpressionType: 'API',
      concurrencyPerWorker: 256,
    });
    const runs: Record<string, unknown>[] = [];
    let taskTracker = '';
    const pids = {
      'bench-w1': workers[0]?.child.pid,
      'bench-w2': workers[1]?.child.pid,
      nats: nats.process.child.pid,
      server: server.child.pid,
    };
    const cpuNow = () =>
      Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    // A short run first: JIT and thread start-up are not what the figures are about.
    const warmup = Number(process.env.BENCH_WARMUP ?? 20_000);
    if (warmup > 0) {
      const run = await api.post(`/api/v1/apps/${app}/jobs/${mr.body.id}/run`, {
        params: { count: warmup },
      });
      await finished(api, app, run.body.id);
    }
    for (const count of sizes) {
      const cpu0 = cpuNow();
      const t0 = performance.now();
      const run = await api.post(`/api/v1/apps/${app}/jobs/${mr.body.id}/run`, {
        params: { count },
      });
      const done = await finished(api, app, run.body.id);
      taskTracker = done.workerId;
      const seconds = (performance.now() - t0) / 1_000;
      runs.push({
        tasks: count,
        status: done.status,
        counted: Number(done.result),
        ...(done.status === 'SUCCEEDED'
          ? {}
          : { reason: String(done.result ?? done.reason).slice(0, 300) }),
        wallSeconds: round(seconds, 2),
        tasksPerSec: Math.round(count / seconds),
        cpuSeconds: Object.fromEntries(
          Object.entries(cpuNow()).map(([k, v]) => [k, round(v - (cpu0[k] ?? 0), 2)]),
        ),
      });
    }
    // Run-to-start latency, up to the processor's first line as the processor
    // itself records it (same machine, same clock): from the run's creation
    // (the API's insert) and, including the HTTP round trip, from the API call.
    const standalone = await api.post(`/api/v1/apps/${app}/jobs`, {
      name: 'stamp',
      processorName: 'stamp',
      timeExpressionType: 'API',
    });
    const fromCreated: number[] = [];
    const fromCall: number[] = [];
    const sql = new pg.Client({ connectionString: databaseUrl(postgres.adminUrl, 'bench') });
    await sql.connect();
    const now = wallNow;
    for (let i = 0; i < Number(process.env.BENCH_STANDALONE ?? 1_000); i++) {
      const calledAt = now();
      const run = await api.post(`/api/v1/apps/${app}/jobs/${standalone.body.id}/run`, {});
      for (;;) {
        const r = await sql.query<{ result: string; created: number }>(
          `SELECT result, extract(epoch FROM created_at) * 1000 AS created FROM instances
           WHERE id = $1 AND status = 'SUCCEEDED'`,
          [run.body.id],
        );
        const row = r.rows[0];
        if (row) {
          fromCreated.push(round(Number(row.result) - Number(row.created), 2));
          fromCall.push(round(Number(row.result) - calledAt, 2));
          break;
        }
        // The figure comes from the processor's clock: polling slower does not change it.
        await new Promise((r2) => setTimeout(r2, 10));
      }
    }
    await sql.end();
    fromCreated.sort((a, b) => a - b);
    fromCall.sort((a, b) => a - b);
    return {
      bench: 'mapreduce',
      warmupTasks: warmup,
      runs,
      taskTrackerWorker: taskTracker,
      peakRssMb: {
        server: peakRssMb(server.child.pid),
        'bench-w1': peakRssMb(workers[0]?.child.pid),
        'bench-w2': peakRssMb(workers[1]?.child.pid),
      },
      runToStartMs: { p50: quantile(fromCreated, 0.5), p99: quantile(fromCreated, 0.99) },
      apiCallToStartMs: { p50: quantile(fromCall, 0.5), p99: quantile(fromCall, 0.99) },
      node: process.version,
    };
  } finally {
    await Promise.all(
      workers.map((w) => stopProcess(w, process.env.BENCH_PROF ? 'SIGTERM' : 'SIGKILL')),
    );
    await stopProcess(server);
    await Promise.all([nats.stop(), postgres.stop()]);
  }
}
