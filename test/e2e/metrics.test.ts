import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { spawnDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { histogramCount, type MetricFamily, sampleSum, scrape } from '../harness/prometheus.js';
import { serviceStats } from '../harness/service-stats.js';

// Prometheus metrics of real processes: the server's GET /metrics (no app
// secret) and a worker's --metrics-port (off by default) move with the runs
// they serve, and parse as Prometheus text; `$SRV.STATS` counts the real
// handlers' requests, in-process asks between a worker's own actors included.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
let workerMetricsUrl: string;

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  const [withPort, withoutPort] = await Promise.all([
    cluster.startWorker('met-1', ['--metrics-port', '0']),
    cluster.startWorker('met-2'),
  ]);
  workerMetricsUrl = withPort.find(/"metrics":"(http:\/\/[^"]+)"/) as string;
  expect(workerMetricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  expect(withoutPort.find(/(metrics served)/)).toBeUndefined();
  await cluster.untilWorkersAlive(2);
  nc = await cluster.nats.connect('metrics-test');
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

/** Creates an API job (on met-1 only, unless `spec` says otherwise); returns its id. */
async function createJob(spec: Record<string, unknown>): Promise<string> {
  const { app } = cluster;
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    timeExpressionType: 'API',
    dispatchStrategy: 'SPECIFY',
    designatedWorkers: ['met-1'],
    ...spec,
  });
  expect(job.status).toBe(201);
  return String(job.body.id);
}

async function runAndWait(jobId: string, params: unknown): Promise<void> {
  const { app } = cluster;
  const run = await app.api.post(`/api/v1/apps/${app.name}/jobs/${jobId}/run`, { params });
  await waitForInstance(app, run.body.id, (i) => i.status === 'SUCCEEDED', 30_000);
}

/** Scrapes `url` until `ready` holds (values counted at scrape may trail a run by a moment). */
async function scrapeUntil(
  url: string,
  ready: (m: Map<string, MetricFamily>) => boolean,
  timeoutMs = 15_000,
): Promise<Map<string, MetricFamily>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const metrics = await scrape(url);
    if (ready(metrics) || Date.now() > until) return metrics;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('metrics', () => {
  it('counts runs, latencies, waiting runs, workers and handlers on the server and the worker', async () => {
    const echoJob = await createJob({ processorName: 'echo' });
    const mapJob = await createJob({ processorName: 'noop-map', executeType: 'MAP_REDUCE' });
    // Nobody can take these: they wait for a worker.
    const stuckJob = await createJob({ processorName: 'echo', designatedWorkers: ['nobody'] });
    const before = await scrape(`${cluster.serverUrl}/metrics`);
    expect(sampleSum(before, 'drover_runs_created_total', { job: echoJob })).toBe(0);

    for (let i = 0; i < 5; i++) await runAndWait(echoJob, { text: `hello ${i}` });
    await runAndWait(mapJob, { count: 20 });
    const { app } = cluster;
    for (let i = 0; i < 3; i++)
      await app.api.post(`/api/v1/apps/${app.name}/jobs/${stuckJob}/run`, {
        params: { text: 'stuck' },
      });

    // The server: no app secret needed, Prometheus text.
    const server = await scrapeUntil(
      `${cluster.serverUrl}/metrics`,
      (m) =>
        sampleSum(m, 'drover_runs_waiting') === 3 &&
        sampleSum(m, 'drover_runs_finished_total', { job: mapJob }) === 1,
    );
    expect(sampleSum(server, 'drover_runs_created_total', { job: echoJob })).toBe(5);
    expect(sampleSum(server, 'drover_runs_created_total', { job: stuckJob })).toBe(3);
    expect(sampleSum(server, 'drover_runs_dispatched_total', { job: echoJob })).toBe(5);
    expect(
      sampleSum(server, 'drover_runs_finished_total', { job: echoJob, status: 'SUCCEEDED' }),
    ).toBe(5);
    expect(
      sampleSum(server, 'drover_runs_finished_total', { job: mapJob, status: 'SUCCEEDED' }),
    ).toBe(1);
    // 20 map tasks, the root task and the reduce.
    expect(
      sampleSum(server, 'drover_tasks_finished_total', { job: mapJob, outcome: 'succeeded' }),
    ).toBeGreaterThanOrEqual(20);
    expect(sampleSum(server, 'drover_runs_waiting')).toBe(3);
    expect(histogramCount(server, 'drover_dispatch_latency_seconds')).toBeGreaterThanOrEqual(6);
    expect(histogramCount(server, 'drover_pickup_latency_seconds')).toBeGreaterThanOrEqual(6);
    expect(sampleSum(server, 'drover_workers_alive')).toBe(2);
    expect(
      sampleSum(server, 'drover_handler_requests_total', { handler: 'worker_heartbeat' }),
    ).toBeGreaterThan(0);
    expect(server.get('drover_nats_reconnects_total')?.type).toBe('COUNTER');
    // Counters never go down between scrapes.
    const again = await scrape(`${cluster.serverUrl}/metrics`);
    expect(sampleSum(again, 'drover_runs_created_total', { job: echoJob })).toBe(5);

    // The worker that ran them, on its own metrics port.
    const worker = await scrapeUntil(
      workerMetricsUrl,
      (m) => sampleSum(m, 'drover_worker_runs_finished_total', { status: 'SUCCEEDED' }) === 6,
    );
    expect(
      sampleSum(worker, 'drover_worker_runs_started_total', { execute_type: 'STANDALONE' }),
    ).toBe(5);
    expect(
      sampleSum(worker, 'drover_worker_runs_started_total', { execute_type: 'MAP_REDUCE' }),
    ).toBe(1);
    expect(sampleSum(worker, 'drover_worker_runs_finished_total', { status: 'SUCCEEDED' })).toBe(6);
    expect(
      sampleSum(worker, 'drover_worker_tasks_total', { outcome: 'succeeded' }),
    ).toBeGreaterThanOrEqual(5 + 20);
    expect(sampleSum(worker, 'drover_worker_slots')).toBe(8);
    expect(sampleSum(worker, 'drover_worker_slots_busy')).toBe(0);
    expect(sampleSum(worker, 'drover_worker_runs_queued')).toBe(0);
    // The map run's tasks went from its TaskTracker to the ProcessorTracker beside it, in process.
    expect(
      sampleSum(worker, 'drover_handler_requests_total', { handler: 'start_tasks' }),
    ).toBeGreaterThan(0);
    expect(worker.get('drover_nats_reconnects_total')?.type).toBe('COUNTER');
    const notFound = await fetch(workerMetricsUrl.replace(/\/metrics$/, '/other'));
    expect(notFound.status).toBe(404);

    // $SRV.STATS: the same handlers' requests, with the time spent in them.
    const [serverStats] = await serviceStats(nc, 'drover-server', 1);
    const finals = serverStats?.endpoints.find((e) => e.name === 'report_finals');
    expect(finals?.num_requests).toBeGreaterThan(0);
    const workers = await serviceStats(nc, 'drover-worker', 2);
    const met1 = workers.find((s) => s.metadata.workerId === 'met-1');
    const startTasks = met1?.endpoints.find((e) => e.name === 'start_tasks');
    expect(startTasks?.num_requests).toBe(
      sampleSum(worker, 'drover_handler_requests_total', { handler: 'start_tasks' }),
    );
    expect(startTasks?.processing_time).toBeGreaterThan(0);
  }, 120_000);

  it('refuses a DROVER_WORKER_METRICS_PORT that is not a port, naming it (exit 2)', async () => {
    const worker = await spawnDrover(
      'worker',
      ['--processors', 'test/fixtures/processors.ts'],
      { DROVER_APP: cluster.app.name, DROVER_WORKER_METRICS_PORT: 'abc' },
      /value 'abc' from env 'DROVER_WORKER_METRICS_PORT' is invalid\. must be an integer from 0 to 65535/,
    );
    expect(await worker.exited).toBe(2);
  });
});
