import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../harness/drover-cli.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// `drover up` in a temp dir: a whole cluster (spawned nats-server, PGlite
// under the data dir, a server, a worker) that runs a job, stops on Ctrl-C,
// and comes back with its history. `drover monitor` sees it from NATS alone.

let dataDir: string;
const running: ReadyProcess[] = [];
const drover = (...args: string[]) => runCli(['--data-dir', dataDir, ...args]);
const up = () =>
  spawnCli(
    ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '1'],
    /Ctrl-C stops everything/,
  );

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'drover-up-'));
});
afterAll(async () => {
  await Promise.all(running.map((p) => stopProcess(p, 'SIGKILL')));
  await rm(dataDir, { recursive: true, force: true });
});

describe('drover up', () => {
  it('comes up, runs a job, stops cleanly, and comes back with its history', async () => {
    const first = await up();
    running.push(first);
    expect(first.find(/Postgres\s+(embedded PGlite in \S+)/)).toContain(dataDir);

    const monitor = await spawnCli(
      ['--data-dir', dataDir, '--json', 'monitor'],
      /watching drover\.\*\.events/,
    );
    running.push(monitor);

    const created = await drover(
      '--json',
      'job',
      'create',
      '--name',
      'sum',
      '--processor',
      'sum-range',
      '--execute',
      'MAP_REDUCE',
    );
    expect(created.code).toBe(0);
    const jobId = JSON.parse(created.stdout).id as string;
    const run = await drover(
      '--json',
      'job',
      'run',
      jobId,
      '--params',
      '{"n":100000,"chunk":1000}',
      '--wait',
    );
    expect(run.code).toBe(0);
    const instance = JSON.parse(run.stdout);
    expect(instance).toMatchObject({ status: 'SUCCEEDED', result: '5000050000' });
    await monitor.waitFor(new RegExp(`"instanceId":"${instance.id}".*"status":"SUCCEEDED"`));
    await stopProcess(monitor, 'SIGINT');
    expect(await monitor.exited).toBe(0);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.tail()).toContain('drover up: stopped');
    const down = await drover('job', 'list');
    expect(down.code).toBe(2); // no cluster to talk to any more

    const second = await up();
    running.push(second);
    const history = await drover('--json', 'instance', 'list');
    expect(JSON.parse(history.stdout)).toEqual([
      expect.objectContaining({ id: instance.id, status: 'SUCCEEDED', result: '5000050000' }),
    ]);
    const again = await drover('--json', 'job', 'run', jobId, '--params', '{"n":10}', '--wait');
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'SUCCEEDED', result: '55' });
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('says how to get nats-server when it is not on PATH', async () => {
    const result = await runCli(['--data-dir', dataDir, 'up', '--port', '0'], {
      PATH: '/nonexistent',
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('nats-server was not found on PATH');
  });
});
