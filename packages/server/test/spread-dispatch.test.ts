import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName, useDatabase, useNats } from '../../../test/harness/fixtures.js';
import { testLogger } from '../../../test/harness/logger.js';
import { basicProcessor, type DroverWorker, startWorker } from '../../worker/src/index.js';
import type { DroverServer } from '../src/index.js';
import {
  createTestApp,
  startTestServer,
  type TestApp,
  waitForInstance,
} from './support/server-fixture.js';

// Runs picked together (a bulk API call, a CRON slot's batch) spread over the
// workers with room: each pick counts against its worker's free slots at once,
// not only after the batch was sent (which sent a whole batch to one worker).

const db = useDatabase();
useNats();
const RUNS = 100;
let server: DroverServer;
let app: TestApp;
let sql: pg.Client;
const workers: DroverWorker[] = [];
let jobId: string;

function startTheWorker(workerId: string): Promise<DroverWorker> {
  return startWorker({
    natsUrl: natsUrl(),
    insecureNats: true, // the suite's shared NATS has no authentication
    app: app.name,
    workerId,
    // Each pick moves a worker's free-slot ratio by 1/concurrency: at 100 a
    // pick outweighs the drift of the machine's load average between the two
    // workers' heartbeats (health counts both), which at 500 could send 78 of
    // a burst to one worker on a busy machine.
    concurrency: 100,
    processors: [basicProcessor({ name: 'noop', process: async () => 'ok' })],
    log: testLogger(workerId),
  });
}

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    processorName: 'noop',
  });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  jobId = job.body.id;
  workers.push(await startTheWorker('spread-a'), await startTheWorker('spread-b'));
  // Both known to the server (their heartbeats) before any run is picked.
  const until = Date.now() + 20_000;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    const alive = (res.body.workers as { alive: boolean; processors: string[] }[]).filter(
      (w) => w.alive && w.processors.includes('noop'),
    );
    if (alive.length === 2) break;
    if (Date.now() > until) throw new Error(`workers not seen: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await server.stop();
  await sql.end();
});

/** Runs `RUNS` runs in one bulk call and answers how many each worker ran. */
async function runBurst(run: Record<string, unknown>): Promise<Record<string, number>> {
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/runs`, {
    runs: Array.from({ length: RUNS }, () => run),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const ids = (res.body.instances as { id: string }[]).map((i) => i.id);
  for (const id of ids) await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED');
  const { rows } = await sql.query<{ worker_id: string; n: string }>(
    `SELECT worker_id, count(*) AS n FROM instances WHERE id = ANY($1::bigint[]) GROUP BY worker_id`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.worker_id, Number(r.n)]));
}

describe('a batch of runs spreads over the workers', () => {
  it('due at once (bound to a worker by their INSERT)', async () => {
    const perWorker = await runBurst({});
    expect(Object.keys(perWorker).sort()).toEqual(['spread-a', 'spread-b']);
    for (const n of Object.values(perWorker)) expect(n).toBeGreaterThanOrEqual(RUNS / 4);
  });

  it('due together later (dispatched from their timers as one batch)', async () => {
    const perWorker = await runBurst({ delayMs: 1_000 });
    expect(Object.keys(perWorker).sort()).toEqual(['spread-a', 'spread-b']);
    for (const n of Object.values(perWorker)) expect(n).toBeGreaterThanOrEqual(RUNS / 4);
  });
});
