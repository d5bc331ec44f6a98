import { writeFileSync } from 'node:fs';
import {
  commitMeasured,
  cpuBetween,
  loadAverage,
  type PeerCluster,
  startPeerCluster,
} from './peer-cluster.js';
import { quantile, round } from './stats.js';

// CRON at scale (issue 13): BENCH_CRON_JOBS (1,000) jobs firing every second
// for BENCH_CRON_SECONDS (60) through a real drover-worker. The backlog (runs
// due but not started) is sampled each second and must not grow; fire-to-start
// is the processor's start minus the slot (expected_trigger_at).

const UNFINISHED = `status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED')`;

async function createCronJobs(c: PeerCluster, jobs: number) {
  for (let i = 0; i < jobs; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, jobs - i) }, async (_, k) => {
        const res = await c.api.post(`/api/v1/apps/${c.app}/jobs`, {
          name: `cron-${i + k}`,
          processorName: 'noop',
          timeExpressionType: 'CRON',
          timeExpression: '* * * * * *',
          enabled: false,
        });
        if (res.status !== 201) throw new Error(`job not created: ${JSON.stringify(res)}`);
      }),
    );
  }
}

/**
 * Runs due but not started now, sampled mid-second. A run a worker accepted
 * but holds in its queue looks RUNNING in Postgres until its final report, so
 * `backlog` counts due runs not yet finished (a no-op finishes within
 * milliseconds of its start) plus slots of jobs whose scan is behind (due, not
 * even inserted yet); `atServer` counts those the server still holds
 * (waiting for dispatch, for a worker with room, or for the worker's accept).
 */
async function backlog(c: PeerCluster): Promise<{ backlog: number; atServer: number }> {
  const { rows } = await c.sql.query(
    `SELECT
       (SELECT count(*) FROM instances WHERE ${UNFINISHED} AND expected_trigger_at <= now()) AS due,
       (SELECT count(*) FROM instances
         WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER', 'WAITING_WORKER_RECEIVE')
           AND expected_trigger_at <= now()) AS waiting,
       (SELECT coalesce(sum(floor(extract(epoch FROM now() - next_trigger_at)) + 1), 0)
          FROM jobs WHERE enabled AND next_trigger_at <= now()) AS unscanned`,
  );
  const r = rows[0];
  return {
    backlog: Number(r.due) + Number(r.unscanned),
    atServer: Number(r.waiting) + Number(r.unscanned),
  };
}

/** Least-squares slope of values sampled once a second: growth per second. */
function slopePerSecond(values: number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

export async function benchCron(): Promise<Record<string, unknown>> {
  const jobs = Number(process.env.BENCH_CRON_JOBS ?? 1_000);
  const seconds = Number(process.env.BENCH_CRON_SECONDS ?? 60);
  const warmupSeconds = 3; // the first slots, while timers and pools fill, are left out
  const measured = commitMeasured();
  const loadAtStart = loadAverage();
  const c = await startPeerCluster();
  try {
    await createCronJobs(c, jobs);
    // All jobs start together on a whole second, as a fleet of every-second jobs would.
    const { rows: began } = await c.sql.query<{ at: Date }>(
      `UPDATE jobs SET enabled = true, spec = jsonb_set(spec, '{enabled}', 'true'),
         next_trigger_at = date_trunc('second', now()) + interval '2 seconds'
       WHERE app_id = (SELECT id FROM apps WHERE name = $1) RETURNING next_trigger_at AS at`,
      [c.app],
    );
    const firstSlot = (began[0] as { at: Date }).at.getTime();
    const windowStart = firstSlot + warmupSeconds * 1_000;
    const windowEnd = firstSlot + seconds * 1_000;
    const until = async (at: number) => {
      // The sampling schedule (mid-second, away from the slots), not an event to await.
      const wait = at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
    await until(windowStart);
    const cpu0 = c.cpu();
    const load0 = loadAverage();
    const samples: number[] = [];
    const atServer: number[] = [];
    for (let at = windowStart + 500; at < windowEnd; at += 1_000) {
      await until(at);
      const b = await backlog(c);
      samples.push(b.backlog);
      atServer.push(b.atServer);
    }
    await until(windowEnd);
    const cpu1 = c.cpu();
    const load1 = loadAverage();
    await c.sql.query(
      `UPDATE jobs SET enabled = false, spec = jsonb_set(spec, '{enabled}', 'false'),
         next_trigger_at = NULL WHERE app_id = (SELECT id FROM apps WHERE name = $1)`,
      [c.app],
    );
    // Slots of the window still running or waiting finish before they are read
    // (30 s at most: a backlog that grew is reported as runs not succeeded).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await c.sql.query(
        `SELECT count(*)::int AS n FROM instances WHERE ${UNFINISHED}
           AND expected_trigger_at >= $1 AND expected_trigger_at < $2`,
        [new Date(windowStart), new Date(windowEnd)],
      );
      if (rows[0].n === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await c.sql.query<{
      ms: number | null;
      status: string;
      claimed: number;
      worker: string | null;
      slot: Date;
    }>(
      `SELECT status, (result #>> '{}')::float8 - extract(epoch FROM expected_trigger_at) * 1000 AS ms,
         extract(epoch FROM dispatched_at - expected_trigger_at) * 1000 AS claimed,
         worker_id AS worker, expected_trigger_at AS slot
         FROM instances WHERE expected_trigger_at >= $1 AND expected_trigger_at < $2`,
      [new Date(windowStart), new Date(windowEnd)],
    );
    // BENCH_DUMP=<file>: every measured run as `slot,worker,ms` lines, to see
    // which worker and which slot a late start came from.
    if (process.env.BENCH_DUMP)
      writeFileSync(
        process.env.BENCH_DUMP,
        rows.map((r) => `${r.slot.getTime()},${r.worker},${r.ms}`).join('\n'),
      );
    const statuses: Record<string, number> = {};
    for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const started = rows
      .filter((r) => r.status === 'SUCCEEDED' && r.ms !== null)
      .map((r) => Number(r.ms))
      .sort((a, b) => a - b);
    const slots = jobs * ((windowEnd - windowStart) / 1_000);
    // When the server claimed each slot for its worker, relative to the slot
    // (negative: sent ahead of its time, to be held by the worker until then).
    const claimed = rows.map((r) => Number(r.claimed)).sort((a, b) => a - b);
    const runsPerWorker: Record<string, number> = {};
    const bySlot = new Map<number, number[]>();
    for (const r of rows) {
      runsPerWorker[r.worker ?? 'none'] = (runsPerWorker[r.worker ?? 'none'] ?? 0) + 1;
      if (r.status !== 'SUCCEEDED' || r.ms === null) continue;
      const slot = bySlot.get(r.slot.getTime()) ?? [];
      slot.push(Number(r.ms));
      bySlot.set(r.slot.getTime(), slot);
    }
    // Whether lateness is a tail inside every slot or whole slots started late.
    const slotMedians = [...bySlot.values()]
      .map((ms) =>
        quantile(
          ms.sort((a, b) => a - b),
          0.5,
        ),
      )
      .sort((a, b) => a - b);
    return {
      bench: 'cron',
      ...measured,
      postgres: 'durable (fsync, synchronous_commit, full_page_writes on)',
      worker: `${process.env.BENCH_WORKERS ?? 1} drover-worker process(es), --concurrency ${c.concurrency}${process.env.BENCH_THREADS ? `, --threads ${process.env.BENCH_THREADS}` : ''}, no-op module`,
      jobs,
      seconds,
      measuredSeconds: (windowEnd - windowStart) / 1_000,
      slots,
      runsSucceeded: started.length,
      runsNotSucceeded: slots - started.length,
      statuses,
      backlog: {
        first: samples[0],
        last: samples[samples.length - 1],
        max: Math.max(...samples),
        growthPerSec: round(slopePerSecond(samples), 1),
        samples,
        atServer: { max: Math.max(...atServer), last: atServer[atServer.length - 1] },
      },
      claimedVsSlotMs: {
        p1: round(quantile(claimed, 0.01), 1),
        p50: round(quantile(claimed, 0.5), 1),
        p99: round(quantile(claimed, 0.99), 1),
      },
      fireToStartMs: {
        min: round(started[0] ?? Number.NaN, 2),
        p50: round(quantile(started, 0.5), 2),
        p99: round(quantile(started, 0.99), 2),
        max: round(started[started.length - 1] ?? Number.NaN, 2),
      },
      slotMedianMs: {
        p50: round(quantile(slotMedians, 0.5), 2),
        max: round(slotMedians[slotMedians.length - 1] ?? Number.NaN, 2),
        inOrder: [...bySlot.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([, ms]) => round(quantile(ms, 0.5), 1)),
      },
      runsPerWorker,
      ...cpuBetween(cpu0, cpu1, Math.max(1, started.length)),
      loadAverage: { atStart: loadAtStart, windowStart: load0, windowEnd: load1 },
      node: process.version,
    };
  } finally {
    await c.stop();
  }
}
