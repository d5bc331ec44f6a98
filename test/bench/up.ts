import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnReady, stopProcess } from '../harness/process.js';
import { quantile, round } from './stats.js';

// `drover up` start-up: from spawning the built `drover` to its "cluster
// running" banner, cold (a fresh data dir: initdb, migrations, the app) and
// warm (the same data dir again). BENCH_RUNS runs of each (default 5).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DROVER = join(ROOT, 'packages/cli/dist/main.js');

async function startToBanner(dataDir: string): Promise<{ ms: number; postgres?: string }> {
  const t0 = performance.now();
  const up = await spawnReady(
    process.execPath,
    [DROVER, '--data-dir', dataDir, 'up', '--port', '0'],
    { ready: /drover up: cluster running/, timeoutMs: 60_000 },
  );
  const ms = performance.now() - t0;
  // The banner's lines follow the one that matched: wait for its last.
  await up.waitFor(/Ctrl-C stops everything/);
  const postgres = up.find(/Postgres\s+(.+)$/);
  await stopProcess(up, 'SIGINT');
  return { ms, postgres };
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50_ms: round(quantile(sorted, 0.5), 0),
    max_ms: round(sorted.at(-1) ?? Number.NaN, 0),
    runs: values.length,
  };
};

export async function benchUp(): Promise<Record<string, unknown>> {
  await access(DROVER).catch(() => {
    throw new Error(`${DROVER} is missing: run \`pnpm build\` first`);
  });
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const cold: number[] = [];
  const warm: number[] = [];
  let postgres: string | undefined;
  for (let i = 0; i < runs; i++) {
    const dataDir = await mkdtemp(join(tmpdir(), 'drover-bench-up-'));
    try {
      const first = await startToBanner(dataDir);
      cold.push(first.ms);
      postgres = first.postgres;
      warm.push((await startToBanner(dataDir)).ms);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return { bench: 'up', postgres, cold: summary(cold), warm: summary(warm) };
}
