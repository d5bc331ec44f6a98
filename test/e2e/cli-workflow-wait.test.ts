import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBinaries } from '../harness/built-binaries.js';
import { runCli, spawnCli, spawnCliInTerminal } from '../harness/drover-cli.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';

// `drover workflow run --wait` on a real cluster (server, worker): it follows
// the run node by node (plain lines into a pipe, lines redrawn on a
// terminal), exits 0 when the run succeeds and 1 when it fails; `run show`
// gives each node's status, instance and result.

const db = useDatabase();
let cluster: DroverCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let cli: (...args: string[]) => ReturnType<typeof runCli>;

beforeAll(async () => {
  await buildBinaries(['cli']);
  cluster = await startDroverCluster(db.url, { workers: ['wf-1'] });
  dir = await mkdtemp(join(tmpdir(), 'drover-cli-workflow-wait-'));
  env = {
    DROVER_SERVER_URL: cluster.serverUrl,
    DROVER_APP: cluster.app.name,
    DROVER_APP_SECRET: cluster.app.secret,
  };
  cli = (...args) => runCli(['--data-dir', dir, ...args], env, { built: true });
  const job = await cli('job', 'create', '--name', 'echo', '--processor', 'echo');
  expect(job.code, job.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** extract → check (rows > 0 in the init params) → load | alert; `bad` fails (echo without text). */
async function createWorkflow(withBadNode = false): Promise<string> {
  const echo = (id: string) => `  - { id: ${id}, kind: job, job: echo, params: { text: ${id}ed } }`;
  const file = join(dir, `${uniqueName('wf')}.yaml`);
  await writeFile(
    file,
    [
      `name: ${uniqueName('wf')}`,
      'nodes:',
      echo('extract'),
      '  - { id: check, kind: decision, expression: "params.rows > 0" }',
      echo('load'),
      echo('alert'),
      ...(withBadNode ? ['  - { id: bad, kind: job, job: echo }'] : []),
      'edges:',
      '  - { from: extract, to: check }',
      '  - { from: check, to: load, when: true }',
      '  - { from: check, to: alert, when: false }',
      ...(withBadNode ? ['  - { from: extract, to: bad }'] : []),
    ].join('\n'),
  );
  const created = await cli('--json', 'workflow', 'create', '-f', file);
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout).id as string;
}

describe('drover workflow run --wait', { timeout: 120_000 }, () => {
  it('prints each node as it changes into a pipe and exits 0 when the run succeeds', async () => {
    const id = await createWorkflow();
    const run = await cli('workflow', 'run', id, '--params', '{"rows":5}', '--wait');
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).not.toContain('\x1b[');
    for (const line of [
      /extract: succeeded instance \d+/,
      /check: succeeded/,
      /alert: skipped/,
      /load: succeeded instance \d+/,
      /: succeeded \(/,
    ])
      expect(out).toMatch(line);
    // extract ends before load starts: its line comes first.
    expect(out.search(/extract: succeeded/)).toBeLessThan(
      out.search(/load: running|load: succeeded/),
    );
    // The run's own last line comes after its nodes' (they ended before it).
    const progress = out.split('\n').filter((l) => /^ {2}\S.*: .* \(\d+\.\ds\)$/.test(l));
    expect(progress.at(-1), out).toMatch(/^ {2}run \d+: succeeded \(/);
    expect(out).toMatch(/load\s+job\s+SUCCEEDED\s+1\s+\d+\s+loaded/);

    const runId = /workflow run (\d+)/.exec(out)?.[1] ?? '';
    const shown = JSON.parse((await cli('--json', 'workflow', 'run', 'show', runId)).stdout);
    expect(shown.status).toBe('SUCCEEDED');
    expect(
      Object.fromEntries(
        shown.nodes.map((n: { nodeId: string; status: string }) => [n.nodeId, n.status]),
      ),
    ).toEqual({ extract: 'SUCCEEDED', check: 'SUCCEEDED', load: 'SUCCEEDED', alert: 'SKIPPED' });
  });

  it('exits 1 when the run fails, naming the failed node', async () => {
    const id = await createWorkflow(true);
    const run = await cli('workflow', 'run', id, '--params', '{"rows":5}', '--wait');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/bad: failed/);
    expect(run.stdout).toMatch(/: FAILED/);
  });

  it('redraws the nodes in place on a terminal', async () => {
    const id = await createWorkflow();
    const live = await spawnCliInTerminal(
      ['--data-dir', dir, 'workflow', 'run', id, '--params', '{"rows":0}', '--wait'],
      /alert: succeeded/,
      env,
      { built: true },
    );
    await live.exited;
    // Cursor up over the lines drawn before, each line erased and drawn again.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escape codes are what this test looks for
    expect(live.tail()).toMatch(/\x1b\[\d+A/);
    expect(live.tail()).toContain('\x1b[2K');
    expect(live.tail()).toMatch(/load: skipped/);
  });

  // Last: it restarts the cluster's server.
  it('rides out a server restart and reports the run it followed', async () => {
    const nap = await cli('job', 'create', '--name', 'nap', '--processor', 'nap');
    expect(nap.code, nap.stderr).toBe(0);
    const file = join(dir, `${uniqueName('wf')}.yaml`);
    // A node of 6 s: the run is not final before the kill below, even on a loaded machine.
    await writeFile(
      file,
      [
        `name: ${uniqueName('wf')}`,
        'nodes:',
        '  - { id: nap, kind: job, job: nap, params: { ms: 6000 } }',
      ].join('\n'),
    );
    const created = await cli('--json', 'workflow', 'create', '-f', file);
    expect(created.code, created.stderr).toBe(0);
    const waiting = await spawnCli(
      ['--data-dir', dir, 'workflow', 'run', JSON.parse(created.stdout).id, '--wait'],
      /\(\d+\.\ds\)$/,
      env,
      { built: true },
    );
    await cluster.restartServer();
    const code = await waiting.exited;
    const out = waiting.tail();
    expect(code, out).toBe(0);
    expect(out).toMatch(/server unreachable \(.+\), asking again/);
    expect(out).toMatch(/nap: succeeded instance \d+/);
  });
});
