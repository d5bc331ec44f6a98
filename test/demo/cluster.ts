import { randomBytes } from 'node:crypto';
import { startServer } from '@drover/server';
import { startWorker } from '@drover/worker';
import pg from 'pg';
import { pino } from 'pino';
import { startNatsServer } from '../harness/nats-server.js';
import { startPostgres } from '../harness/postgres.js';
import { databaseUrl } from '../harness/template.js';
import { hello, sumRange } from './processors.js';

// The demo: a whole Drover cluster on this machine (nats-server and a
// throwaway Postgres it starts itself, one server, two workers), then a
// map-reduce job summing 1..N, with progress and a verified result.

const N = Number(process.env.DEMO_N ?? 10_000_000);
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const say = (line: string) => console.log(`[demo] ${line}`);

const [nats, postgres] = await Promise.all([startNatsServer(), startPostgres()]);
say(`nats-server on ${nats.url}, Postgres on port ${postgres.port}`);
const admin = new pg.Client({ connectionString: postgres.adminUrl });
await admin.connect();
await admin.query('CREATE DATABASE drover');
await admin.end();

const server = await startServer(
  { natsUrl: nats.url, databaseUrl: databaseUrl(postgres.adminUrl, 'drover'), httpPort: 0 },
  log,
);
await server.ready;
say(`drover-server API on ${server.url} (OpenAPI: ${server.url}/api/v1/openapi.json)`);

const appName = 'demo';
const secret = randomBytes(16).toString('hex');
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
await call('POST', '/api/v1/apps', { name: appName, secret });

const workers = await Promise.all(
  ['worker-1', 'worker-2'].map((workerId) =>
    startWorker({
      natsUrl: nats.url,
      app: appName,
      secret,
      workerId,
      processors: [sumRange, hello],
      concurrency: 4,
      log,
    }),
  ),
);
say(
  `workers ${workers.map((w) => w.workerId).join(' and ')} running processors sum-range and hello`,
);

const job = await call('POST', `/api/v1/apps/${appName}/jobs`, {
  name: 'sum-range',
  processorName: 'sum-range',
  executeType: 'MAP_REDUCE',
  timeExpressionType: 'API',
  concurrencyPerWorker: 4,
});
const started = performance.now();
const run = await call('POST', `/api/v1/apps/${appName}/jobs/${job.id}/run`, {
  params: { n: N, chunk: 50_000 },
});
say(`running map-reduce instance ${run.id}: sum of 1..${N.toLocaleString('en')}`);

let instance: Record<string, unknown>;
for (;;) {
  instance = await call('GET', `/api/v1/apps/${appName}/instances/${run.id}`);
  const p = instance.progress as { total: number; succeeded: number; failed: number } | null;
  say(
    `  ${instance.status}${p ? `: ${p.succeeded}/${p.total} tasks done, ${p.failed} failed` : ''}`,
  );
  if (['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'].includes(String(instance.status))) break;
  await new Promise((r) => setTimeout(r, 500));
}
const expected = (BigInt(N) * BigInt(N + 1)) / 2n;
const ok = instance.status === 'SUCCEEDED' && String(instance.result) === expected.toString();
say(
  `result ${instance.result} in ${((performance.now() - started) / 1000).toFixed(2)} s; expected ${expected}: ${ok ? 'VERIFIED' : 'WRONG'}`,
);
const logs = await call('GET', `/api/v1/apps/${appName}/instances/${run.id}/logs`);
for (const line of logs.lines as { level: string; message: string; workerId: string }[]) {
  say(`  log [${line.workerId}] ${line.level}: ${line.message}`);
}

await Promise.all(workers.map((w) => w.stop()));
await server.stop();
await Promise.all([nats.stop(), postgres.stop()]);
say('cluster stopped');
process.exit(ok ? 0 : 1);
