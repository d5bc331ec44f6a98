import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../packages/cli/src/up/process-identity.js';
import { runCli, spawnCli, spawnCliInTerminal } from '../harness/drover-cli.js';
import { spawnDrover } from '../harness/drover-process.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// `drover up` owns its data dir: one at a time (a lock naming the holder), a
// kill -9 leaves a stale lock the next `up` recovers, NATS keeps its port, and
// `drover env` is all a separate drover-worker needs to join.

let dataDir: string;
const running: ReadyProcess[] = [];
const drover = (...args: string[]) => runCli(['--data-dir', dataDir, ...args]);
const up = async (...extra: string[]) => {
  const p = await spawnCli(
    ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0', ...extra],
    /Ctrl-C stops everything/,
  );
  running.push(p);
  return p;
};
const natsUrlOf = (p: ReadyProcess) => p.find(/NATS\s+(nats:\S+)/) as string;

/** KEY=value lines of `drover env`, read the way a shell would for these values. */
function parseEnv(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const eq = line.indexOf('=');
        const raw = line.slice(eq + 1);
        const value = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
        return [line.slice(0, eq), value];
      }),
  );
}

/** Process ids whose command line mentions `text` (nats-server or postgres left behind). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) pids.push(Number(entry));
  }
  return pids;
}

const holdPort = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'drover-up-lock-'));
});
afterAll(async () => {
  await Promise.all(running.map((p) => stopProcess(p, 'SIGKILL')));
  // A nats-server a kill -9ed `up` left behind (until children die with their parent).
  const nats = await readFile(join(dataDir, 'nats.json'), 'utf8').catch(() => undefined);
  if (nats) {
    const port = String(JSON.parse(nats).port);
    for (const pid of await processesMentioning('nats-server'))
      if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(port))
        process.kill(pid, 'SIGKILL');
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('drover up and its data dir', () => {
  it('refuses a second up, joins a separate worker from `drover env`, recovers from kill -9 on the same NATS URL', async () => {
    const first = await up();
    const natsUrl = natsUrlOf(first);

    // A second `up` on the held dir fails at once, naming the holder.
    const second = await drover('up', '--port', '0', '--workers', '0');
    expect(second.code).toBe(5);
    expect(second.stderr).toContain(
      `data dir ${dataDir} is in use by drover up (pid ${first.child.pid}, started `,
    );

    // `drover env` is everything a separate worker needs (it has processors the up-workers lack).
    const env = await drover('env');
    expect(env.code).toBe(0);
    const vars = parseEnv(env.stdout);
    expect(Object.keys(vars).sort()).toEqual([
      'DROVER_ADMIN_TOKEN',
      'DROVER_APP',
      'DROVER_APP_SECRET',
      'DROVER_NATS_NKEY_FILE',
      'DROVER_NATS_URL',
      'DROVER_SERVER_URL',
    ]);
    // The worker's seed stays in the data dir (owner only); only its path is printed.
    expect(vars.DROVER_NATS_NKEY_FILE).toBe(join(dataDir, 'nats', `worker-${vars.DROVER_APP}.nk`));
    expect((await stat(vars.DROVER_NATS_NKEY_FILE as string)).mode & 0o777).toBe(0o600);
    expect(vars.DROVER_NATS_URL).toBe(natsUrl);
    // The admin token `up` made is the owner's alone, and it is what creates apps.
    expect((await stat(join(dataDir, 'admin-token'))).mode & 0o777).toBe(0o600);
    const { DROVER_ADMIN_TOKEN: adminToken, ...withoutAdmin } = vars;
    const noToken = await runCli(['app', 'create', 'other_app'], {
      ...withoutAdmin,
      DROVER_DATA_DIR: join(dataDir, 'elsewhere'),
    });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toContain('DROVER_ADMIN_TOKEN');
    const createdApp = await runCli(['--json', 'app', 'create', 'other_app'], {
      ...withoutAdmin,
      DROVER_ADMIN_TOKEN: adminToken,
    });
    expect(createdApp.code).toBe(0);
    expect(JSON.parse(createdApp.stdout)).toMatchObject({
      name: 'other_app',
      secret: expect.any(String),
    });
    const worker = await spawnDrover(
      'worker',
      ['--processors', 'test/fixtures/processors.ts', '--worker-id', 'env-worker'],
      vars,
      /"msg":"drover-worker running"/,
    );
    running.push(worker);
    const created = await runCli(
      ['--json', 'job', 'create', '--name', 'echo', '--processor', 'echo'],
      vars,
    );
    expect(created.code).toBe(0);
    const jobId = JSON.parse(created.stdout).id as string;
    const runJob = async (text: string) => {
      const run = await runCli(
        ['--json', 'job', 'run', jobId, '--params', JSON.stringify({ text }), '--wait'],
        vars,
      );
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout);
    };
    expect(await runJob('from env')).toMatchObject({
      status: 'SUCCEEDED',
      result: 'from env',
      workerId: 'env-worker',
    });

    // kill -9: the lock stays behind, naming a dead holder and its children (nats-server, postgres).
    const lock = JSON.parse(await readFile(join(dataDir, 'drover-up.lock'), 'utf8'));
    expect(lock).toMatchObject({
      pid: first.child.pid,
      children: [{ pid: expect.any(Number) }, { pid: expect.any(Number) }],
    });
    const childPids = (lock.children as { pid: number }[]).map((c) => c.pid);
    first.child.kill('SIGKILL');
    await first.exited;
    const noCluster = await drover('env');
    expect(noCluster.code).toBe(5);
    expect(noCluster.stderr).toContain(`no drover up is running for data dir ${dataDir}`);

    // The next `up` recovers the stale lock (its children are gone), keeps the NATS URL.
    const third = await up();
    expect(third.tail()).toContain('recovering a stale drover up lock');
    expect(childPids.filter(isAlive)).toEqual([]);
    expect(natsUrlOf(third)).toBe(natsUrl);
    // The separate worker, started against the old URL, is not stranded.
    const serverUrl = third.find(/API\s+(http:\S+)/) as string;
    const after = await runCli(
      ['--json', 'job', 'run', jobId, '--params', '{"text":"after kill -9"}', '--wait'],
      { ...vars, DROVER_SERVER_URL: serverUrl },
    );
    expect(JSON.parse(after.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      result: 'after kill -9',
      workerId: 'env-worker',
    });
    await stopProcess(worker);

    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
    await expect(readFile(join(dataDir, 'drover-up.lock'))).rejects.toThrow(/ENOENT/);
  }, 180_000);

  it('moves NATS to a free port, with a warning, when its old one is taken', async () => {
    const port = JSON.parse(await readFile(join(dataDir, 'nats.json'), 'utf8')).port as number;
    const squatter = await holdPort(port);
    try {
      const moved = await up();
      expect(natsUrlOf(moved)).not.toBe(`nats://127.0.0.1:${port}`);
      expect(moved.tail()).toContain('workers started against the old URL must be restarted');
      moved.child.kill('SIGINT');
      expect(await moved.exited).toBe(0);
    } finally {
      squatter.close();
    }
  }, 60_000);

  it('says the HTTP port is taken before starting anything, exits non-zero, leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-up-port-'));
    const squatter = await holdPort(0);
    const address = squatter.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await runCli(['--data-dir', dir, 'up', '--port', String(port)]);
      expect(result.code).toBe(5);
      expect(result.stderr).toContain(
        `HTTP port ${port} is in use; stop what holds it or use --port 0`,
      );
      // Checked before nats-server and Postgres start: no initdb, no NATS port recorded.
      await expect(readFile(join(dir, 'nats.json'))).rejects.toThrow(/ENOENT/);
      await expect(readFile(join(dir, 'pgdata', 'PG_VERSION'))).rejects.toThrow(/ENOENT/);
      expect(await processesMentioning(dir)).toEqual([]);
      await expect(readFile(join(dir, 'drover-up.lock'))).rejects.toThrow(/ENOENT/);
    } finally {
      squatter.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('logs JSON when stderr is not a terminal, readable lines when it is (JSON again with --json-logs)', async () => {
    const piped = await up('--log-level', 'info');
    const ready = await piped.waitFor(/server ready/);
    expect(JSON.parse(ready)).toMatchObject({ level: 30, msg: 'server ready' });
    piped.child.kill('SIGINT');
    expect(await piped.exited).toBe(0);

    for (const json of [false, true]) {
      const args = ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0'];
      const terminal = await spawnCliInTerminal(
        [...args, '--log-level', 'info', ...(json ? ['--json-logs'] : [])],
        /Ctrl-C stops everything/,
      );
      running.push(terminal);
      const line = await terminal.waitFor(/server ready/);
      if (json) expect(line).toMatch(/^\{"level":30,.*"msg":"server ready"/);
      else expect(line).toMatch(/INFO.*server ready/);
      process.kill(terminal.cliPid, 'SIGINT');
      expect(await terminal.exited).toBe(0);
    }
  }, 120_000);
});
