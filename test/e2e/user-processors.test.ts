import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FINAL_INSTANCE_STATUSES, type InstanceStatus } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { BUILT_ENTRY, buildBinaries } from '../harness/built-binaries.js';
import { createAndRunJob, runCli, spawnCli } from '../harness/drover-cli.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { type ReadyProcess, runToEnd, spawnReady, stopProcess } from '../harness/process.js';

// A user's own processors, in files of their own outside the repository (a
// temp dir with no node_modules: they only `import type` from
// @drover/worker), run by the BUILT binaries as users run them: `drover up
// --processors` and `drover-worker`, in processor threads. Node 20 cannot
// import .ts by itself: this is the `Unknown file extension ".ts"` regression.

const USER_TS = `
import { isMainThread } from 'node:worker_threads';
import type { MapContext, MapReduceProcessor, Processor, TaskOutcome } from '@drover/worker';

interface GreetParams {
  name: string;
}
const where = (): string => (isMainThread ? 'the main thread' : 'a processor thread');

export const greet: Processor = {
  kind: 'basic',
  name: 'greet',
  process: (ctx) => \`hello \${(ctx.params as GreetParams).name} from \${where()}\`,
};

/** Sums the squares of 1..n: one task per number, in processor threads. */
export const squares: MapReduceProcessor<{ n: number }> = {
  kind: 'mapReduce',
  name: 'squares',
  process: async (ctx: MapContext<{ n: number }>) => {
    if (ctx.isRootTask) {
      await ctx.map(Array.from({ length: ctx.params.n }, (_, i) => i + 1), 'square');
      return 'mapped';
    }
    if (isMainThread) throw new Error('a task ran on the main thread');
    const x = ctx.payload as number;
    return String(x * x);
  },
  reduce: (_ctx, results: TaskOutcome[]) =>
    String(results.filter((r) => r.taskName === 'square').reduce((s, r) => s + Number(r.result), 0)),
};
`;
const USER_MJS = `
export default [
  { kind: 'basic', name: 'shout', process: (ctx) => String(ctx.params.text).toUpperCase() },
];
`;
const FILES = {
  'processors.ts': USER_TS,
  'more.mjs': USER_MJS,
  // Another processor named "greet": a clash with processors.ts.
  'clash.mjs': `export const hi = { kind: 'basic', name: 'greet', process: () => 'hi' };`,
  'broken.mjs': `export const x = { kind: 'basic', name: 'x', process() { return 1; }`,
  'broken.ts': `export const x: number = ;`,
  'nothing.mjs': 'export const answer = 42;',
  // Loads on the main thread, throws in processor threads.
  'main-only.mjs': `
import { isMainThread } from 'node:worker_threads';
if (!isMainThread) throw new Error('this module does not load in processor threads');
export const y = { kind: 'basic', name: 'y', process: () => 'y' };
`,
};

const db = useDatabase();
let userDir: string;
let dataDir: string;
const running: ReadyProcess[] = [];
const file = (name: keyof typeof FILES) => join(userDir, name);
const drover = (...args: string[]) => runCli(['--data-dir', dataDir, ...args], {}, { built: true });
/** `drover up` run from the user's directory, so `--processors ./x` is relative to it. */
const up = async (...args: string[]) => {
  const cluster = await spawnCli(
    ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '1', ...args],
    /Ctrl-C stops everything/,
    {},
    { built: true, cwd: userDir },
  );
  running.push(cluster);
  return cluster;
};

/** Creates a job through the CLI and runs it to its end: the instance. */
const runJob = (processor: string, execute: string, params: unknown) =>
  createAndRunJob(drover, { name: uniqueName(processor), processor, execute, params });

beforeAll(async () => {
  await buildBinaries();
  userDir = await mkdtemp(join(tmpdir(), 'drover-user-'));
  dataDir = await mkdtemp(join(tmpdir(), 'drover-up-procs-'));
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(userDir, name), text);
});
afterAll(async () => {
  await Promise.all(running.map((p) => stopProcess(p, 'SIGKILL')));
  await rm(userDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('drover up --processors (built)', () => {
  it("runs a user's TypeScript module from outside the repository, in processor threads", async () => {
    const cluster = await up('--processors', './processors.ts');
    expect(cluster.find(/processors\s+(.+)$/)).toBe('greet, squares');
    expect(await runJob('greet', 'STANDALONE', { name: 'you' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hello you from a processor thread',
    });
    expect(await runJob('squares', 'MAP_REDUCE', { n: 20 })).toMatchObject({
      status: 'SUCCEEDED',
      result: '2870',
    });
    await stopProcess(cluster, 'SIGINT');
    expect(await cluster.exited).toBe(0);
  }, 120_000);

  it('runs the processors of several modules (--processors a.ts --processors b.mjs)', async () => {
    const cluster = await up('--processors', './processors.ts', '--processors', './more.mjs');
    expect(cluster.find(/processors\s+(.+)$/)).toBe('greet, squares, shout');
    expect(await runJob('shout', 'STANDALONE', { text: 'both run' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'BOTH RUN',
    });
    expect(await runJob('greet', 'STANDALONE', { name: 'again' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hello again from a processor thread',
    });
    await stopProcess(cluster, 'SIGINT');
    expect(await cluster.exited).toBe(0);
  }, 120_000);

  it('fails before starting anything when a module does not load, naming the file', async () => {
    const result = await runCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--processors', './broken.mjs'],
      {},
      { built: true, cwd: userDir },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `drover up failed: cannot load processors from ${file('broken.mjs')}: SyntaxError`,
    );
  });
});

describe('drover-worker (built) with user modules', () => {
  let cluster: DroverCluster;
  beforeAll(async () => {
    cluster = await startDroverCluster(db.url);
  });
  afterAll(() => cluster.stop());

  const worker = (args: string[], env: NodeJS.ProcessEnv = {}) => ({
    args: [BUILT_ENTRY.worker, ...args],
    env: {
      ...process.env,
      DROVER_NATS_URL: cluster.nats.url,
      DROVER_NATS_NKEY_FILE: cluster.app.workerSeedFile,
      DROVER_APP: cluster.app.name,
      DROVER_LOG_LEVEL: 'info',
      ...env,
    },
  });

  it('runs a .ts and a .mjs module (DROVER_PROCESSORS) in processor threads', async () => {
    const w = worker(['--threads', '2', '--worker-id', 'w-user'], {
      DROVER_PROCESSORS: [file('processors.ts'), file('more.mjs')].join(delimiter),
    });
    const started = await spawnReady(process.execPath, w.args, {
      env: w.env,
      ready: /"msg":"drover-worker running"/,
    });
    running.push(started);
    await cluster.untilWorkersAlive(1);
    const runTo = async (spec: Record<string, unknown>, params: unknown) => {
      const { id } = await cluster.run(spec, { params });
      return waitForInstance(cluster.app, id, (i) =>
        FINAL_INSTANCE_STATUSES.includes(i.status as InstanceStatus),
      );
    };
    expect(await runTo({ processorName: 'greet' }, { name: 'worker' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'hello worker from a processor thread',
    });
    expect(
      await runTo({ processorName: 'squares', executeType: 'MAP_REDUCE' }, { n: 10 }),
    ).toMatchObject({ status: 'SUCCEEDED', result: '385' });
    expect(await runTo({ processorName: 'shout' }, { text: 'mjs too' })).toMatchObject({
      status: 'SUCCEEDED',
      result: 'MJS TOO',
    });
    await stopProcess(started);
  }, 60_000);

  it('refuses modules it cannot use with a message naming the file, and exits 2', async () => {
    const cases: [string[], string][] = [
      [
        [file('processors.ts'), file('clash.mjs')],
        `drover-worker: processor "greet" is exported by both ${file('processors.ts')} and ${file('clash.mjs')}`,
      ],
      [[file('broken.mjs')], `cannot load processors from ${file('broken.mjs')}: SyntaxError`],
      [[file('broken.ts')], `cannot load processors from ${file('broken.ts')}:`],
      [[file('nothing.mjs')], `${file('nothing.mjs')} exports no processors`],
    ];
    for (const [modules, message] of cases) {
      const w = worker(['--threads', '2', '--processors', ...modules]);
      const result = await runToEnd(process.execPath, w.args, { env: w.env, timeoutMs: 20_000 });
      expect(result.stderr).toContain(message);
      expect(result.code).toBe(2);
    }
  });

  it('exits with the cause when its processor threads cannot load the modules (no respawn loop)', async () => {
    const w = worker(['--threads', '2', '--processors', file('main-only.mjs')]);
    // A worker respawning its threads never exits: killed (and failed) after 20 s.
    const result = await runToEnd(process.execPath, w.args, { env: w.env, timeoutMs: 20_000 });
    expect(result.stderr).toContain(
      `drover-worker: a processor thread could not start: cannot load processors from ${file('main-only.mjs')}: Error: this module does not load in processor threads`,
    );
    expect(result.code).toBe(2);
    // One thread's failure ends the start: no thread is respawned to fail again.
    expect(result.stdout.match(/processor thread could not start/g)).toHaveLength(1);
  });
});
