import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsSubject } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBinaries } from '../harness/built-binaries.js';
import { runCli, spawnCli, spawnCliInTerminal } from '../harness/drover-cli.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { stopProcess } from '../harness/process.js';

// `drover workflow …` against a real server: a YAML spec refused with the
// node named (and exit 2), then saved, listed, shown with its next fire
// times, run, and its runs listed and shown. The CLI runs built.

const db = useDatabase();
let cluster: DroverCluster;
let dir: string;
let cli: (...args: string[]) => ReturnType<typeof runCli>;

beforeAll(async () => {
  await buildBinaries(['cli']);
  cluster = await startDroverCluster(db.url);
  dir = await mkdtemp(join(tmpdir(), 'drover-cli-workflow-'));
  const env = {
    DROVER_SERVER_URL: cluster.serverUrl,
    DROVER_APP: cluster.app.name,
    DROVER_APP_SECRET: cluster.app.secret,
  };
  cli = (...args) => runCli(['--data-dir', dir, ...args], env, { built: true });
  // The jobs of examples/workflows/etl.yaml, created as docs/workflows.md says.
  for (const name of ['extract', 'transform', 'load', 'alert']) {
    const execute = name === 'transform' ? ['--execute', 'MAP_REDUCE'] : [];
    const job = await cli(
      '--json',
      'job',
      'create',
      '--name',
      name,
      '--processor',
      'echo',
      '--schedule',
      'WORKFLOW',
      ...execute,
    );
    expect(job.code, job.stderr).toBe(0);
  }
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const yaml = (name: string, loadJob: string) => `
name: ${name}
schedule:
  type: CRON
  expression: "0 30 2 * * *"
  timeZone: Europe/Paris
nodes:
  - id: extract
    kind: job
    job: extract
  - id: check
    kind: decision
    expression: "context.rows > 0"
  - id: load
    kind: job
    job: ${loadJob}
edges:
  - { from: extract, to: check }
  - { from: check, to: load, when: true }
`;

describe('drover workflow', { timeout: 120_000 }, () => {
  it('refuses a spec naming the node, then creates, lists, shows, runs and shows the run', async () => {
    const name = uniqueName('etl');
    const file = join(dir, 'etl.yaml');
    await writeFile(file, yaml(name, 'lod'));
    const refused = await cli('workflow', 'create', '-f', file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`body.nodes[2].job: node "load": no job named "lod"`);

    await writeFile(file, yaml(name, 'load'));
    const created = await cli('--json', 'workflow', 'create', '-f', file);
    expect(created.code, created.stderr).toBe(0);
    const id: string = JSON.parse(created.stdout).id;

    const list = await cli('workflow', 'list');
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+${name}\\s+3\\s+CRON 0 30 2`));

    const shown = await cli('--json', 'workflow', 'show', id);
    const times: number[] = JSON.parse(shown.stdout).nextFireTimes;
    expect(times).toHaveLength(5);
    const human = await cli('workflow', 'show', id);
    expect(human.stdout).toContain('check → load when true');
    expect(human.stdout).toMatch(/^ {2}extract: job extract \(id \d+\)$/m);
    expect(human.stdout).toContain('  check: decision context.rows > 0');
    expect(human.stdout).toMatch(/next fire times: \S/);

    const run = await cli(
      '--json',
      'workflow',
      'run',
      id,
      '--params',
      '{"day":"2026-12-01"}',
      '--idempotency-key',
      'k1',
    );
    expect(run.code, run.stderr).toBe(0);
    const runId: string = JSON.parse(run.stdout).id;
    const again = await cli('--json', 'workflow', 'run', id, '--idempotency-key', 'k1');
    expect(JSON.parse(again.stdout).id).toBe(runId);

    const detail = await cli('--json', 'workflow', 'run', 'show', runId);
    expect(detail.code, detail.stderr).toBe(0);
    const nodes = JSON.parse(detail.stdout).nodes as { nodeId: string; kind: string }[];
    expect(nodes.map((n) => [n.nodeId, n.kind])).toEqual([
      ['extract', 'job'],
      ['check', 'decision'],
      ['load', 'job'],
    ]);
    const table = await cli('workflow', 'run', 'show', runId);
    expect(table.stdout).toMatch(/NODE\s+KIND\s+STATUS\s+ATTEMPT\s+INSTANCE\s+RESULT/);
    expect(table.stdout).toContain('context: {"day":"2026-12-01"}');

    const runs = await cli('--json', 'workflow', 'runs', 'list', '--workflow', id);
    expect(JSON.parse(runs.stdout).map((r: { id: string }) => r.id)).toEqual([runId]);
    const badStatus = await cli('workflow', 'runs', 'list', '--status', 'DONE');
    expect(badStatus.code).toBe(2);

    const disabled = await cli('--json', 'workflow', 'disable', id);
    expect(JSON.parse(disabled.stdout).enabled).toBe(false);
  });

  it('creates the ETL example of docs/workflows.md', async () => {
    const created = await cli('--json', 'workflow', 'create', '-f', 'examples/workflows/etl.yaml');
    expect(created.code, created.stderr).toBe(0);
    const w = JSON.parse(created.stdout);
    expect(w.name).toBe('nightly-etl');
    expect(w.spec.nodes.map((n: { id: string }) => n.id)).toEqual([
      'extract',
      'transform',
      'quality',
      'load',
      'alert',
    ]);
  });

  it('drover monitor shows workflow-run and workflow-node events (lines into a pipe, a table on a terminal)', async () => {
    const args = [
      ...['--data-dir', dir, 'monitor', '--nats', cluster.nats.url],
      ...['--nats-nkey-file', cluster.nats.serverSeedFile],
    ];
    const env = {
      DROVER_SERVER_URL: cluster.serverUrl,
      DROVER_APP: cluster.app.name,
      DROVER_APP_SECRET: cluster.app.secret,
    };
    // Events as the server publishes them (JSON on drover.<app>.events.<kind>).
    const nc = await cluster.nats.connect('workflow-events');
    const publish = () => {
      const app = cluster.app.name;
      const at = Date.now();
      nc.publish(
        eventsSubject(app, 'workflow-node'),
        JSON.stringify({
          type: 'workflow-node',
          ...{ app, workflowId: '7', runId: '41', nodeId: 'extract', status: 'RUNNING' },
          ...{ instanceId: '900', childRunId: null, at },
        }),
      );
      nc.publish(
        eventsSubject(app, 'workflow-run'),
        JSON.stringify({
          type: 'workflow-run',
          ...{ app, workflowId: '7', runId: '41', status: 'RUNNING', reason: null, at },
        }),
      );
    };
    try {
      const piped = await spawnCli(args, /watching drover\./, env, { built: true });
      try {
        publish();
        await piped.waitFor(/workflow run 41 node extract RUNNING \(instance 900\)/);
        await piped.waitFor(/workflow run 41 of workflow 7 RUNNING/);
      } finally {
        await stopProcess(piped, 'SIGINT');
      }
      const live = await spawnCliInTerminal(args, /WORKFLOW RUNS/, env, { built: true });
      try {
        publish();
        await live.waitFor(/41\s+7\s+RUNNING\s+extract=RUNNING/);
      } finally {
        process.kill(live.cliPid, 'SIGINT');
        await live.exited;
      }
    } finally {
      await nc.close();
    }
  });
});
