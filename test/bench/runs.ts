import { openLoop } from './open-loop.js';
import {
  commitMeasured,
  cpuBetween,
  loadAverage,
  noopJob,
  type PeerCluster,
  startPeerCluster,
  wallNow,
} from './peer-cluster.js';
import { pickupFloor } from './pickup-floor.js';
import { resetStatementStats, statementStats } from './statement-stats.js';
import { quantile, round } from './stats.js';

// Runs at peer speed (issue 13), the shape job systems are compared in: how
// fast runs are added (bulk, single serial, single 50 in flight), end-to-end
// runs/s of BENCH_RUNS no-op runs through a real drover-worker, pickup
// latency open-loop at 100 runs/s, and the CPU each process spends per run.

// Runs added only to measure adding: due after the server's longest timer
// (2^31-1 ms), so none is armed or dispatched while the figures are taken.
const FAR_DELAY_MS = 30 * 24 * 3_600_000;
const BULK_SIZE = 1_000;
const IN_FLIGHT = 50;
// BENCH_PHASES: which phases to run (default all: add,e2e,pickup,floor; floor only with pickup).
const PHASES = new Set((process.env.BENCH_PHASES ?? 'add,e2e,pickup,floor').split(','));
// Bulk calls in flight at once (BENCH_BULK_LANES).
const BULK_LANES = Number(process.env.BENCH_BULK_LANES ?? 2);
const FINISHED = `('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED')`;

type RunBody = { params?: unknown; delayMs?: number; idempotencyKey?: string };

/** POST /run for each body, `lanes` calls in flight; fails on the first call not answered 201. */
async function singleRuns(c: PeerCluster, jobId: string, bodies: RunBody[], lanes: number) {
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await c.api.post(`/api/v1/apps/${c.app}/jobs/${jobId}/run`, body);
      if (res.status < 200 || res.status > 299)
        throw new Error(`POST /run answered ${JSON.stringify(res)}`);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/**
 * Adds runs through the bulk API (`BULK_SIZE` a call, `lanes` calls in
 * flight); false when the server has no bulk API (404/405), nothing added then.
 */
async function bulkRuns(
  c: PeerCluster,
  jobId: string,
  bodies: RunBody[],
  lanes: number,
): Promise<boolean> {
  const path = `/api/v1/apps/${c.app}/jobs/${jobId}/runs`;
  const chunks: RunBody[][] = [];
  for (let i = 0; i < bodies.length; i += BULK_SIZE) chunks.push(bodies.slice(i, i + BULK_SIZE));
  const send = async (runs: RunBody[]): Promise<boolean> => {
    const res = await c.api.post(path, { runs });
    if (res.status === 404 || res.status === 405) return false;
    if (res.status < 200 || res.status > 299 || res.body.instances?.length !== runs.length) {
      throw new Error(`POST …/runs answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return true;
  };
  // The first call alone tells whether the API exists.
  if (chunks.length && !(await send(chunks[0] as RunBody[]))) return false;
  let next = 1;
  const lane = async () => {
    while (next < chunks.length) await send(chunks[next++] as RunBody[]);
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return true;
}

/** Runs/s of adding `count` runs with `add`. */
async function addRate(count: number, add: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await add();
  return Math.round(count / ((performance.now() - t0) / 1_000));
}

/**
 * Resolves once no run of the job is unfinished (polled: each poll is a query
 * Postgres pays for); fails with the job's statuses after BENCH_TIMEOUT_S (600).
 */
async function untilAllFinished(c: PeerCluster, jobId: string, pollMs: number) {
  const deadline = Date.now() + Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1_000;
  for (;;) {
    const { rows } = await c.sql.query(
      `SELECT count(*)::int AS n FROM instances WHERE job_id = $1 AND status NOT IN ${FINISHED}`,
      [jobId],
    );
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`runs still unfinished: ${JSON.stringify(await statuses(c, jobId))}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function statuses(c: PeerCluster, jobId: string): Promise<Record<string, number>> {
  const { rows } = await c.sql.query(
    'SELECT status, count(*)::int AS n FROM instances WHERE job_id = $1 GROUP BY status',
    [jobId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function addFigures(c: PeerCluster) {
  const job = await noopJob(c, 'add-only');
  const delayed = (n: number): RunBody[] =>
    Array.from({ length: n }, () => ({ delayMs: FAR_DELAY_MS }));
  const bulkCount = Number(process.env.BENCH_BULK_RUNS ?? 20_000);
  const serialCount = Number(process.env.BENCH_SERIAL_RUNS ?? 1_000);
  const flightCount = Number(process.env.BENCH_ADD_RUNS ?? 5_000);
  // Warm-up: JIT, pools and connections are not what the figures are about.
  await singleRuns(c, job, delayed(200), IN_FLIGHT);
  let bulkApi = await bulkRuns(c, job, delayed(BULK_SIZE), 1);
  let bulkPerSec: number | null = null;
  if (bulkApi) {
    bulkPerSec = await addRate(bulkCount, async () => {
      bulkApi = await bulkRuns(c, job, delayed(bulkCount), BULK_LANES);
    });
  }
  const serialPerSec = await addRate(serialCount, () =>
    singleRuns(c, job, delayed(serialCount), 1),
  );
  const inFlightPerSec = await addRate(flightCount, () =>
    singleRuns(c, job, delayed(flightCount), IN_FLIGHT),
  );
  // The added runs go, so the end-to-end phase starts on a table of its own size.
  await c.sql.query('DELETE FROM instances WHERE job_id = $1', [job]);
  await c.sql.query('VACUUM ANALYZE instances');
  return {
    bulkApi,
    add: {
      bulkRuns: bulkApi ? bulkCount : 0,
      bulkPerSec,
      singleSerialPerSec: serialPerSec,
      single50InFlightPerSec: inFlightPerSec,
      loadAverage: loadAverage(),
    },
  };
}

/** BENCH_RUNS no-op runs submitted (bulk API, else POST /run 50 in flight) until the last one SUCCEEDED. */
async function endToEnd(c: PeerCluster, bulkApi: boolean) {
  const total = Number(process.env.BENCH_RUNS ?? 20_000);
  const submit = async (job: string, n: number) => {
    const bodies = Array.from({ length: n }, () => ({}));
    if (!bulkApi || !(await bulkRuns(c, job, bodies, BULK_LANES))) {
      await singleRuns(c, job, bodies, IN_FLIGHT);
    }
  };
  // Warm-up through the same path.
  const warm = await noopJob(c, 'warm-up');
  await submit(warm, Math.min(2_000, total));
  await untilAllFinished(c, warm, 100);
  const job = await noopJob(c, 'end-to-end');
  await resetStatementStats(c.sql);
  const load0 = loadAverage();
  const cpu0 = c.cpu();
  const t0 = Date.now();
  await submit(job, total);
  const submitted = Date.now();
  await untilAllFinished(c, job, 200);
  const cpu1 = c.cpu();
  const statements = await statementStats(c.sql);
  // The end is when the last run finished (Postgres's clock, this machine's),
  // not when the poll noticed.
  const { rows } = await c.sql.query(
    'SELECT extract(epoch FROM max(finished_at)) * 1000 AS last FROM instances WHERE job_id = $1',
    [job],
  );
  const seconds = (Number(rows[0].last) - t0) / 1_000;
  return {
    runs: total,
    statuses: await statuses(c, job),
    submitSeconds: round((submitted - t0) / 1_000, 2),
    seconds: round(seconds, 2),
    runsPerSec: Math.round(total / seconds),
    ...cpuBetween(cpu0, cpu1, total),
    statements,
    loadAverage: { before: load0, after: loadAverage() },
  };
}

/**
 * Pickup latency, open loop: a POST /run every 1/rate s whatever the answers
 * (node:http, see LeanHttp), each measured from just before its call to its
 * processor's start (the no-op's result, read from Postgres).
 */
async function pickup(c: PeerCluster) {
  const rate = Number(process.env.BENCH_PICKUP_RATE ?? 100);
  const count = Math.round(rate * Number(process.env.BENCH_PICKUP_SECONDS ?? 10));
  const job = await noopJob(c, 'pickup');
  await resetStatementStats(c.sql);
  const calledAt = new Map<string, number>();
  const cpu0 = c.cpu();
  const sentSeconds = await openLoop(rate, count, async () => {
    const at = wallNow();
    const res = await c.lean.post(`/api/v1/apps/${c.app}/jobs/${job}/run`, {});
    if (res.status < 200 || res.status > 299)
      throw new Error(`POST /run answered ${JSON.stringify(res)}`);
    calledAt.set(String(res.body.id), at);
  });
  await untilAllFinished(c, job, 100);
  const cpu1 = c.cpu();
  const statements = await statementStats(c.sql);
  const { rows } = await c.sql.query<{ id: string; result: string }>(
    `SELECT id::text, result FROM instances WHERE job_id = $1 AND status = 'SUCCEEDED'`,
    [job],
  );
  const ms = rows
    .map((r) => Number(r.result) - (calledAt.get(r.id) ?? Number.NaN))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return {
    client: 'node:http, kept-alive connections',
    runs: count,
    measured: ms.length,
    ratePerSec: Math.round(count / sentSeconds),
    p50Ms: round(quantile(ms, 0.5), 2),
    p95Ms: round(quantile(ms, 0.95), 2),
    p99Ms: round(quantile(ms, 0.99), 2),
    maxMs: round(ms[ms.length - 1] ?? Number.NaN, 2),
    // At this rate nothing is batched: each run pays its own statements, messages and wake-ups.
    ...cpuBetween(cpu0, cpu1, count),
    statements,
    // The same calls through the same hops with no Drover code (BENCH_PHASES=floor).
    floor: PHASES.has('floor') ? await pickupFloor(c.natsUrl, c.adminUrl, rate, count) : undefined,
    loadAverage: loadAverage(),
  };
}

export async function benchRuns(): Promise<Record<string, unknown>> {
  const measured = commitMeasured();
  const loadAtStart = loadAverage();
  const c = await startPeerCluster();
  try {
    const { bulkApi, add } = PHASES.has('add')
      ? await addFigures(c)
      : { bulkApi: true, add: undefined };
    const e2e = PHASES.has('e2e') ? await endToEnd(c, bulkApi) : undefined;
    const pick = PHASES.has('pickup') ? await pickup(c) : undefined;
    return {
      bench: 'runs',
      ...measured,
      bulkApi,
      postgres: 'durable (fsync, synchronous_commit, full_page_writes on)',
      worker: `${process.env.BENCH_WORKERS ?? 1} drover-worker process(es), --concurrency ${c.concurrency}${process.env.BENCH_THREADS ? `, --threads ${process.env.BENCH_THREADS}` : ''}, no-op module`,
      loadAverageAtStart: loadAtStart,
      add,
      endToEnd: e2e,
      pickup: pick,
      node: process.version,
    };
  } finally {
    await c.stop();
  }
}
