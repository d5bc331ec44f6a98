import { randomBytes } from 'node:crypto';
import { type DroverServer, startServer } from '@drover/server';
import { Bus, connectNats } from '@drover/transport';
import pg from 'pg';
import { pino } from 'pino';
import { ApiClient } from '../../packages/server/test/support/api-client.js';
import { FakeWorker } from '../../packages/server/test/support/fake-worker.js';
import { startNatsServer } from '../harness/nats-server.js';
import { startPostgres } from '../harness/postgres.js';
import { startTogether } from '../harness/start-together.js';
import { databaseUrl } from '../harness/template.js';
import { quantile, round } from './stats.js';

// App creation needs an admin token; the bench's own server has this one.
const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

// Server benchmark: API runs created, dispatched and finished per second
// against a no-op worker; fire jitter of 1,000 every-second CRON jobs.

const log = pino({ level: process.env.BENCH_LOG ?? 'silent' });

async function withCluster<T>(
  fn: (c: { server: DroverServer; nats: string; sql: pg.Client }) => Promise<T>,
): Promise<T> {
  const [nats, postgres] = await startTogether(startNatsServer, () => startPostgres());
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  const url = databaseUrl(postgres.adminUrl, 'bench');
  const server = await startServer(
    {
      natsUrl: nats.url,
      insecureNats: true,
      databaseUrl: url,
      httpPort: 0,
      logLevel: 'silent',
      databasePoolSize: 20,
      adminToken: BENCH_ADMIN_TOKEN,
    },
    log,
  );
  await server.ready;
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    return await fn({ server, nats: nats.url, sql });
  } finally {
    await sql.end();
    await server.stop();
    await Promise.all([nats.stop(), postgres.stop()]);
  }
}

async function setupApp(server: DroverServer, natsUrl: string) {
  const name = `bench_${randomBytes(3).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  await new ApiClient(server.url, BENCH_ADMIN_TOKEN).post('/api/v1/apps', { name, secret });
  const api = new ApiClient(server.url, secret);
  const bus = new Bus(
    await connectNats({ servers: natsUrl, name: 'noop-worker', log, insecureNats: true }),
    log,
  );
  const worker = await new FakeWorker(bus, {
    app: name,
    workerId: 'noop',
    processors: ['noop'],
    autoSucceed: true,
    freeSlots: 1_000,
  }).start();
  // Wait for the server to know the worker before measuring.
  for (;;) {
    const res = await api.get(`/api/v1/apps/${name}/workers`);
    if (res.body.workers?.length) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name, api, worker };
}

async function throughput(server: DroverServer, natsUrl: string, sql: pg.Client, total: number) {
  const { name, api, worker } = await setupApp(server, natsUrl);
  const job = await api.post(`/api/v1/apps/${name}/jobs`, {
    name: 'noop',
    processorName: 'noop',
    timeExpressionType: 'API',
  });
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < total) {
      next++;
      await api.post(`/api/v1/apps/${name}/jobs/${job.body.id}/run`, {});
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
  const created = performance.now();
  await worker.until(() => worker.runs.length >= total);
  const dispatched = performance.now();
  for (;;) {
    const { rows } = await sql.query(
      `SELECT count(*)::int AS n FROM instances WHERE job_id = $1 AND status = 'SUCCEEDED'`,
      [job.body.id],
    );
    if (rows[0].n >= total) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const finished = performance.now();
  await worker.vanish();
  await worker.bus.nc.close();
  const perSec = (ms: number) => Math.round(total / ((ms - t0) / 1_000));
  return {
    runs: total,
    createdPerSec: perSec(created),
    dispatchedPerSec: perSec(dispatched),
    finishedPerSec: perSec(finished),
  };
}

async function cronJitter(
  server: DroverServer,
  natsUrl: string,
  sql: pg.Client,
  jobs: number,
  seconds: number,
) {
  const { name, api, worker } = await setupApp(server, natsUrl);
  for (let i = 0; i < jobs; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, jobs - i) }, (_, k) =>
        api.post(`/api/v1/apps/${name}/jobs`, {
          name: `cron-${i + k}`,
          processorName: 'noop',
          timeExpressionType: 'CRON',
          timeExpression: '* * * * * *',
          enabled: false,
        }),
      ),
    );
  }
  // All jobs start together on a whole second, as a fleet of every-second jobs would.
  const { rows: began } = await sql.query<{ at: Date }>(
    `UPDATE jobs SET enabled = true, spec = jsonb_set(spec, '{enabled}', 'true'),
       next_trigger_at = date_trunc('second', now()) + interval '2 seconds' RETURNING next_trigger_at AS at`,
  );
  const start = (began[0]?.at.getTime() ?? Date.now()) - 1_000;
  await new Promise((r) => setTimeout(r, seconds * 1_000)); // the benchmark's measuring window
  if (process.env.BENCH_DEBUG) {
    const st = await sql.query(
      `SELECT status, count(*)::int n, min(expected_trigger_at) lo, max(expected_trigger_at) hi, count(dispatched_at)::int d FROM instances GROUP BY status`,
    );
    console.error(JSON.stringify({ start: new Date(start), rows: st.rows }));
  }
  await sql.query('UPDATE jobs SET enabled = false, next_trigger_at = NULL');
  const { rows } = await sql.query<{ lag: number }>(
    `SELECT extract(epoch FROM dispatched_at - expected_trigger_at) * 1000 AS lag FROM instances
     WHERE expected_trigger_at >= $1 AND expected_trigger_at < $2 AND dispatched_at IS NOT NULL`,
    [new Date(start + 3_000), new Date(start + seconds * 1_000 - 1_000)],
  );
  const { rows: missing } = await sql.query(
    `SELECT count(*)::int AS n FROM instances WHERE expected_trigger_at >= $1 AND expected_trigger_at < $2 AND dispatched_at IS NULL`,
    [new Date(start + 3_000), new Date(start + seconds * 1_000 - 1_000)],
  );
  await worker.vanish();
  await worker.bus.nc.close();
  const lags = rows.map((r) => Number(r.lag)).sort((a, b) => a - b);
  return {
    jobs,
    seconds,
    slotsMeasured: lags.length,
    slotsNotYetDispatched: missing[0].n,
    fireJitterP50Ms: round(quantile(lags, 0.5)),
    fireJitterP99Ms: round(quantile(lags, 0.99)),
  };
}

export async function benchServer(): Promise<Record<string, unknown>> {
  const runs = Number(process.env.BENCH_RUNS ?? 2_000);
  const jobs = Number(process.env.BENCH_CRON_JOBS ?? 1_000);
  const only = process.env.BENCH_ONLY;
  const tp =
    only === 'cron'
      ? undefined
      : await withCluster(({ server, nats, sql }) => throughput(server, nats, sql, runs));
  const jitter =
    only === 'throughput'
      ? undefined
      : await withCluster(({ server, nats, sql }) => cronJitter(server, nats, sql, jobs, 15));
  return { bench: 'server', throughput: tp, cron: jitter, node: process.version };
}
