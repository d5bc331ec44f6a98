import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ApiClient, readyzUntil } from '../../packages/server/test/support/api-client.js';
import { buildBinaries } from '../harness/built-binaries.js';
import { spawnBuiltDrover } from '../harness/drover-process.js';
import { startNatsServer } from '../harness/nats-server.js';
import { startPostgres } from '../harness/postgres.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';
import { startTogether } from '../harness/start-together.js';
import { databaseUrl } from '../harness/template.js';
import { LeanHttp } from './lean-http.js';
import { cpuSeconds, treeCpuSeconds } from './proc-cpu.js';
import { round } from './stats.js';

// The cluster the peer-shaped benchmarks (`runs`, `cron`) measure, shaped as
// the job systems Drover is compared with are run: durable Postgres (fsync
// on), the built drover-server and a built drover-worker each in its own
// process, concurrency 50, and a no-op processor module of the user's own.

// App creation needs an admin token; the bench's own server has this one.
const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

// Sub-ms wall time: the monotonic clock (process.hrtime), set against
// Date.now() at the edge of a millisecond. Not performance.timeOrigin +
// performance.now(): that is off the wall clock by a different 5-80 ms in
// each process and thread (seen here); and not performance.now() set against
// Date.now() at load either: early in a process or thread performance.now()
// slips by ~2-3 ms against both clocks (seen here), so starts measured that
// way looked up to 3 ms early, some before their CRON slot.
// Taken at the tick of Date.now()'s millisecond, five times, keeping the
// tick bracketed most tightly: a thread preempted between reading the two
// clocks once (threads start together on two cores) read every start ms off.
const CALIBRATED_WALL_CLOCK = `const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
let wallBase = 0;
for (let i = 0, width = Infinity; i < 5; i++) {
  const edge = Date.now();
  let before = hrMs();
  let prior = before;
  let now = edge;
  while (now === edge) {
    prior = before;
    before = hrMs();
    now = Date.now();
  }
  const after = hrMs();
  if (after - prior < width) {
    width = after - prior;
    wallBase = now - before;
  }
}`;

// A user's module: plain objects, no imports. The result is the moment the
// processor started (ms since the epoch, sub-ms), read back from Postgres.
const NOOP_MODULE = `${CALIBRATED_WALL_CLOCK}
export const noop = {
  kind: 'basic',
  name: 'noop',
  process: () => String(wallBase + hrMs()),
};
`;

const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
const wallBase: number = new Function(`${CALIBRATED_WALL_CLOCK}\nreturn wallBase;`)();
/** Milliseconds since the epoch with sub-ms resolution, comparable across processes of this machine. */
export const wallNow = () => wallBase + hrMs();

/** Load averages (1, 5, 15 min), rounded: every figure is reported with the load it was taken under. */
export const loadAverage = () => loadavg().map((l) => round(l, 2));

/**
 * The commit measured (with `+dirty` when the work tree has changes), and the
 * last commit that changed `packages/`: the code the figures are about.
 */
export function commitMeasured(): { commit: string; packagesCommit: string } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain') ? '+dirty' : '';
    return {
      commit: `${git('rev-parse', '--short', 'HEAD')}${dirty}`,
      packagesCommit: git('log', '-1', '--format=%h', '--', 'packages'),
    };
  } catch {
    return { commit: 'unknown', packagesCommit: 'unknown' };
  }
}

export interface PeerCluster {
  app: string;
  natsUrl: string;
  /** Postgres as its superuser (the bench database is `bench`). */
  adminUrl: string;
  /** The worker's `--concurrency` (BENCH_CONCURRENCY, default 50). */
  concurrency: number;
  api: ApiClient;
  /** The same API through node:http (kept-alive connections), for timing calls. */
  lean: LeanHttp;
  /** A client of the bench database, for reading what the processors wrote. */
  sql: pg.Client;
  /** CPU seconds used so far by each process (Postgres: the postmaster and all its backends). */
  cpu(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startPeerCluster(): Promise<PeerCluster> {
  await buildBinaries(['server', 'worker']);
  const dir = await mkdtemp(join(tmpdir(), 'drover-bench-'));
  const processors = join(dir, 'noop.mjs');
  await writeFile(processors, NOOP_MODULE);
  const [nats, postgres] = await startTogether(startNatsServer, () =>
    startPostgres({ durable: true, statementStats: process.env.BENCH_STATEMENTS === '1' }),
  );
  const started: ReadyProcess[] = [];
  const sql = new pg.Client({ connectionString: databaseUrl(postgres.adminUrl, 'bench') });
  const stop = async () => {
    // BENCH_DEBUG: the last lines each process logged, to see why a figure is off.
    if (process.env.BENCH_DEBUG) for (const p of started) console.error(p.tail());
    await sql.end().catch(() => undefined);
    for (const p of started.reverse()) await stopProcess(p);
    await Promise.all([nats.stop(), postgres.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const logLevel = process.env.BENCH_LOG_LEVEL ?? 'info'; // as users run it
    const concurrency = process.env.BENCH_CONCURRENCY ?? '50'; // as the peers were measured
    // e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles server and worker.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
    const server = await spawnBuiltDrover(
      'server',
      ['--http-port', '0'],
      {
        DROVER_NATS_URL: nats.url,
        DROVER_INSECURE_NATS: '1', // a throwaway NATS without authentication
        DROVER_DATABASE_URL: databaseUrl(postgres.adminUrl, 'bench'),
        DROVER_LOG_LEVEL: logLevel,
        DROVER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      },
      /"msg":"drover-server listening"/,
      nodeArgs,
    );
    started.push(server);
    const url = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
    await readyzUntil(new ApiClient(url), true);
    const app = `bench_${randomBytes(3).toString('hex')}`;
    const secret = randomBytes(16).toString('hex');
    const created = await new ApiClient(url, BENCH_ADMIN_TOKEN).post('/api/v1/apps', {
      name: app,
      secret,
    });
    if (created.status !== 201) throw new Error(`app not created: ${JSON.stringify(created)}`);
    const api = new ApiClient(url, secret);
    const lean = new LeanHttp(url, secret);
    // BENCH_WORKERS (1) drover-worker processes, each with --concurrency.
    const workerCount = Number(process.env.BENCH_WORKERS ?? 1);
    const workers: ReadyProcess[] = [];
    for (let w = 1; w <= workerCount; w++) {
      const worker = await spawnBuiltDrover(
        'worker',
        [
          '--processors',
          processors,
          '--worker-id',
          `bench-w${w}`,
          '--concurrency',
          concurrency,
          // BENCH_THREADS: processor threads (default: the worker's, one per core; 0: main thread).
          ...(process.env.BENCH_THREADS ? ['--threads', process.env.BENCH_THREADS] : []),
        ],
        {
          DROVER_NATS_URL: nats.url,
          DROVER_INSECURE_NATS: '1',
          DROVER_APP: app,
          DROVER_LOG_LEVEL: logLevel,
        },
        /"msg":"drover-worker running"/,
        nodeArgs,
      );
      started.push(worker);
      workers.push(worker);
    }
    await sql.connect();
    // Measure only once the server knows the worker and its processor.
    for (;;) {
      const res = await api.get(`/api/v1/apps/${app}/workers`);
      const ready = (res.body.workers ?? []) as { alive: boolean; processors: string[] }[];
      if (ready.filter((w) => w.alive && w.processors.includes('noop')).length >= workerCount)
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const pids = {
      server: server.child.pid,
      workers: workers.map((w) => w.child.pid),
      nats: nats.process.child.pid,
    };
    return {
      app,
      natsUrl: nats.url,
      adminUrl: postgres.adminUrl,
      concurrency: Number(concurrency),
      api,
      lean,
      sql,
      cpu: () => ({
        server: cpuSeconds(pids.server),
        worker: pids.workers.reduce((sum: number, pid) => sum + cpuSeconds(pid), 0),
        postgres: treeCpuSeconds(postgres.pid),
        nats: cpuSeconds(pids.nats),
        client: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
      }),
      stop: async () => {
        lean.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU used between two `cpu()` readings: seconds, and µs per run of `runs`. */
export function cpuBetween(
  before: Record<string, number>,
  after: Record<string, number>,
  runs: number,
) {
  const seconds = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, round(v - (before[k] ?? 0), 2)]),
  );
  const usPerRun = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, Math.round(((v - (before[k] ?? 0)) * 1e6) / runs)]),
  );
  return { cpuSeconds: seconds, cpuUsPerRun: usPerRun };
}

/** Creates an API-triggered no-op job; its id. */
export async function noopJob(c: PeerCluster, name: string): Promise<string> {
  const res = await c.api.post(`/api/v1/apps/${c.app}/jobs`, {
    name,
    processorName: 'noop',
    timeExpressionType: 'API',
  });
  if (res.status !== 201) throw new Error(`job not created: ${JSON.stringify(res)}`);
  return String(res.body.id);
}
