import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAndRunJob, runCli, spawnCli } from '../harness/drover-cli.js';
import { natsUrl, useDatabase } from '../harness/fixtures.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// `drover up` in a temp dir: a whole cluster (spawned nats-server and
// Postgres, its cluster under the data dir, a server, a worker) that runs a job, stops on Ctrl-C,
// and comes back with its history. `drover monitor` sees it from NATS alone.

const db = useDatabase();
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
    expect(first.find(/Postgres\s+PostgreSQL \S+ \(\S+\), data in (\S+)/)).toBe(
      join(dataDir, 'pgdata'),
    );
    // The web console: printed and served by its server (not opened: stdout is a pipe).
    const consoleUrl = first.find(/console {4}(http\S+)/) as string;
    expect(consoleUrl).toBe(`${first.find(/API\s+(\S+)/)}/`);
    const page = await fetch(consoleUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // Its nats-server requires authentication: a client without a key is refused.
    const natsUrl = first.find(/NATS\s+(nats:\S+)/) as string;
    await expect(connect({ servers: natsUrl })).rejects.toBeInstanceOf(errors.AuthorizationError);

    const monitor = await spawnCli(
      ['--data-dir', dataDir, '--json', 'monitor'],
      /watching drover\.\*\.events/,
    );
    running.push(monitor);

    const instance = await createAndRunJob(drover, {
      name: 'sum',
      processor: 'sum-range',
      execute: 'MAP_REDUCE',
      params: { n: 100_000, chunk: 1000 },
    });
    expect(instance).toMatchObject({ status: 'SUCCEEDED', result: '5000050000' });
    await monitor.waitFor(new RegExp(`"instanceId":"${instance.id}".*"status":"SUCCEEDED"`));
    await stopProcess(monitor, 'SIGINT');
    expect(await monitor.exited).toBe(0);

    // It finds a worker that joined before it started (one plain line, stdout being a pipe).
    const view = await spawnCli(['--data-dir', dataDir, 'monitor'], /watching drover\./);
    running.push(view);
    await view.waitFor(/worker up-worker-1 alive \(ping\)/);
    await stopProcess(view, 'SIGINT');

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
    const again = await drover(
      '--json',
      'job',
      'run',
      String(instance.jobId),
      '--params',
      '{"n":10}',
      '--wait',
    );
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'SUCCEEDED', result: '55' });
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('uses an external NATS and Postgres when given --nats and --database', async () => {
    const externalDir = await mkdtemp(join(tmpdir(), 'drover-up-ext-'));
    try {
      const cluster = await spawnCli(
        [
          '--data-dir',
          externalDir,
          'up',
          '--port',
          '0',
          '--workers',
          '1',
          '--nats',
          natsUrl(),
          // The shared test NATS has no authentication: accepted only when asked.
          '--insecure-nats',
          '--database',
          db.url,
        ],
        /Ctrl-C stops everything/,
      );
      running.push(cluster);
      expect(cluster.find(/NATS\s+(nats:\S+)/)).toBe(natsUrl());
      // Said: this NATS lets anyone in, and the cluster runs on it only because it was asked to.
      expect(cluster.find(/(does not require authentication; running anyway)/)).toBeDefined();
      expect(cluster.find(/Postgres\s+(.+)$/)).toBe('external Postgres');
      const hello = await runCli([
        '--data-dir',
        externalDir,
        '--json',
        'job',
        'create',
        '--name',
        'hi',
        '--processor',
        'hello',
      ]);
      const run = await runCli([
        '--data-dir',
        externalDir,
        '--json',
        'job',
        'run',
        JSON.parse(hello.stdout).id,
        '--params',
        '{"name":"ext"}',
        '--wait',
      ]);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: 'SUCCEEDED', result: 'hello, ext' });
      // Its rows are in the external database.
      const sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      const { rows } = await sql.query(
        "SELECT count(*)::int AS n FROM instances WHERE result = to_jsonb('hello, ext'::text)",
      );
      await sql.end();
      expect(rows[0].n).toBe(1);
      cluster.child.kill('SIGINT');
      expect(await cluster.exited).toBe(0);
    } finally {
      await rm(externalDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('finds nats-server in sbin, off an ordinary user’s PATH, and says how to get it when missing', async () => {
    // Debian's nats-server is /usr/sbin/nats-server; a non-root PATH has no sbin.
    const first = await spawnCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0'],
      /Ctrl-C stops everything/,
      { PATH: '/usr/local/bin:/usr/bin:/bin' },
    );
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);

    const missing = await runCli(['--data-dir', dataDir, 'up', '--port', '0'], {
      PATH: '/nonexistent',
      DROVER_NATS_SERVER_BIN: '/nonexistent/nats-server',
    });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain(
      'DROVER_NATS_SERVER_BIN names /nonexistent/nats-server, which is not an executable file',
    );
  });
});
