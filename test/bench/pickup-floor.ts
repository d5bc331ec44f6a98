import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { spawnReady, stopProcess } from '../harness/process.js';
import { databaseUrl } from '../harness/template.js';
import { LeanHttp } from './lean-http.js';
import { openLoop } from './open-loop.js';
import { wallNow } from './peer-cluster.js';
import { cpuSeconds } from './proc-cpu.js';
import { quantile, round } from './stats.js';

const HOPS = fileURLToPath(new URL('./pickup-floor-hops.ts', import.meta.url));

/**
 * Pickup's floor on this machine: the hops a run must take between the API
 * call and its processor's start (HTTP, a durable INSERT, a NATS request to
 * the worker, the worker's answer before the start), in processes shaped as
 * the cluster's, with no Drover code: what no scheduler built this way can
 * beat here. Offered as pickup is (open loop, `rate` a second), on the same
 * nats-server and Postgres.
 */
export async function pickupFloor(
  natsUrl: string,
  adminUrl: string,
  rate: number,
  count: number,
): Promise<Record<string, unknown>> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE pickup_floor');
  await admin.end();
  const run = (args: string[], ready: RegExp, onLine?: (line: string) => void) =>
    spawnReady(process.execPath, ['--import', 'tsx', HOPS, ...args], { ready, onLine });
  const startedAt = new Map<string, number>();
  let allStarted = () => {};
  const started = new Promise<void>((resolve) => {
    allStarted = resolve;
  });
  const worker = await run(['worker', natsUrl], /^ready$/, (line) => {
    const [word, id, at] = line.split(' ');
    if (word !== 'start' || !id) return;
    startedAt.set(id, Number(at));
    if (startedAt.size === count) allStarted();
  });
  const api = await run(
    ['api', natsUrl, databaseUrl(adminUrl, 'pickup_floor')],
    /^listening (\d+)$/,
  );
  const http = new LeanHttp(`http://127.0.0.1:${api.match[1]}`, 'none');
  try {
    const calledAt = new Map<string, number>();
    const cpu = () => [cpuSeconds(api.child.pid), cpuSeconds(worker.child.pid)];
    const [api0 = 0, worker0 = 0] = cpu();
    await openLoop(rate, count, async (i) => {
      const id = `run-${i}`;
      calledAt.set(id, wallNow());
      const res = await http.post('/run', id);
      if (res.status !== 200) throw new Error(`the floor's API answered ${res.status}`);
    });
    // The starts come through the worker's stdout, maybe after the API's answers;
    // any missing after 30 s show as `measured` short of the count.
    const giveUp = setTimeout(allStarted, 30_000);
    await started;
    clearTimeout(giveUp);
    const [api1 = 0, worker1 = 0] = cpu();
    const ms = [...calledAt]
      .map(([id, at]) => (startedAt.get(`"${id}"`) ?? Number.NaN) - at)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    return {
      hops: 'node:http → durable INSERT → NATS request → answer, then start',
      measured: ms.length,
      p50Ms: round(quantile(ms, 0.5), 2),
      p95Ms: round(quantile(ms, 0.95), 2),
      p99Ms: round(quantile(ms, 0.99), 2),
      // Of the two processes standing for drover-server and drover-worker.
      cpuUsPerRun: {
        api: Math.round(((api1 - api0) * 1e6) / count),
        worker: Math.round(((worker1 - worker0) * 1e6) / count),
      },
    };
  } finally {
    http.close();
    await stopProcess(api);
    await stopProcess(worker);
  }
}
