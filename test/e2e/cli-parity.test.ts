import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROVER_VERSION } from '@drover/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBinaries } from '../harness/built-binaries.js';
import { runCli, spawnCli, spawnCliInTerminal } from '../harness/drover-cli.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { stopProcess } from '../harness/process.js';

// The CLI's parity with the HTTP API (job update/preview, instance cancel,
// idempotency keys, the schedule/retry/timeout/tag flags), --version, errors
// as JSON under --json, and output without escape codes when not on a
// terminal. The CLI runs built, as in cli.test.ts.

const db = useDatabase();
let cluster: DroverCluster;
let dir: string;
let env: NodeJS.ProcessEnv;
let cli: (...args: string[]) => ReturnType<typeof runCli>;
const BUILT = { built: true };
// Any CSI sequence (colour, erase, cursor moves).
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape codes are what these tests look for
const ESCAPE = /\x1b\[/;
// A colour (SGR foreground) code.
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const COLOUR = /\x1b\[3\dm/;

beforeAll(async () => {
  await buildBinaries();
  cluster = await startDroverCluster(db.url);
  await cluster.startWorker('parity-1');
  dir = await mkdtemp(join(tmpdir(), 'drover-cli-parity-'));
  env = {
    DROVER_SERVER_URL: cluster.serverUrl,
    DROVER_APP: cluster.app.name,
    DROVER_APP_SECRET: cluster.app.secret,
  };
  cli = (...args) => runCli(['--data-dir', dir, ...args], env, BUILT);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function createJob(...flags: string[]): Promise<string> {
  const created = await cli('--json', 'job', 'create', '--name', uniqueName('p'), ...flags);
  expect(created.code, created.stdout + created.stderr).toBe(0);
  return JSON.parse(created.stdout).id as string;
}

// Each CLI call is a process start: generous per test on a loaded machine.
describe('drover CLI parity', { timeout: 120_000 }, () => {
  it('prints its version with --version', async () => {
    const r = await runCli(['--version'], {}, BUILT);
    expect(r).toMatchObject({ code: 0, stdout: `${DROVER_VERSION}\n` });
  });

  it('creates a job with time zone, retry, timeout and tag flags', async () => {
    const id = await createJob(
      ...['--processor', 'echo', '--schedule', 'CRON', '--every', '0 0 3 * * *'],
      ...['--time-zone', 'Europe/Paris', '--max-attempts', '3', '--retry-interval', '2000'],
      ...['--task-max-attempts', '4', '--timeout', '60000', '--start-timeout', '5000'],
      ...['--tag', 'gpu', 'eu'],
    );
    const shown = JSON.parse((await cli('--json', 'job', 'show', id)).stdout);
    expect(shown.spec).toMatchObject({
      timeZone: 'Europe/Paris',
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 2_000 },
      taskRetry: { maximumAttempts: 4 },
      instanceTimeoutMs: 60_000,
      scheduleToStartTimeoutMs: 5_000,
      tags: ['gpu', 'eu'],
    });
    const bad = await cli('job', 'create', '--name', 'x', '--processor', 'echo', '--timeout', '-5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout must be an integer of at least 0');
  });

  it('updates a job: the flags given change, the rest stays', async () => {
    const id = await createJob('--processor', 'echo', '--max-attempts', '2', '--tag', 'a');
    const updated = await cli(
      ...['--json', 'job', 'update', id, '--schedule', 'CRON', '--every', '0 30 6 * * *'],
      ...['--time-zone', 'Asia/Tokyo', '--retry-interval', '500'],
    );
    expect(updated.code, updated.stderr).toBe(0);
    const spec = JSON.parse(updated.stdout).spec;
    expect(spec).toMatchObject({
      processorName: 'echo',
      timeExpressionType: 'CRON',
      timeExpression: '0 30 6 * * *',
      timeZone: 'Asia/Tokyo',
      instanceRetry: { maximumAttempts: 2, initialIntervalMs: 500 },
      tags: ['a'],
    });
    const human = await cli('job', 'update', id, '--concurrency', '3');
    expect(human).toMatchObject({ code: 0, stdout: `job ${id} updated (${spec.name})\n` });
    const refused = await cli('job', 'update', id, '--time-zone', 'Mars/Olympus');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('timeZone');
    expect((await cli('job', 'update', '999999', '--concurrency', '2')).code).toBe(3);
  });

  it('previews the next fire times of a schedule without saving a job', async () => {
    const before = JSON.parse((await cli('--json', 'job', 'list')).stdout).length;
    const preview = await cli(
      ...['--json', 'job', 'preview', '--schedule', 'CRON', '--every', '0 0 9 * * *'],
      ...['--time-zone', 'America/New_York'],
    );
    expect(preview.code, preview.stderr).toBe(0);
    const { times } = JSON.parse(preview.stdout) as { times: number[] };
    expect(times).toHaveLength(5);
    const nyHour = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    expect(times.map((t) => nyHour.format(t))).toEqual(['09', '09', '09', '09', '09']);
    expect(JSON.parse((await cli('--json', 'job', 'list')).stdout)).toHaveLength(before);
    const human = await cli('job', 'preview', '--schedule', 'FIXED_RATE', '--every', '60000');
    expect(human.stdout.trim().split('\n')).toHaveLength(5);
  });

  it('cancels a run that has not started', async () => {
    const id = await createJob('--processor', 'echo');
    const run = await cli('--json', 'job', 'run', id, '--delay', '600000');
    const instanceId = JSON.parse(run.stdout).id as string;
    const canceled = await cli('--json', 'instance', 'cancel', instanceId);
    expect(canceled.code, canceled.stderr).toBe(0);
    expect(JSON.parse(canceled.stdout)).toMatchObject({ id: instanceId, status: 'CANCELED' });
    const again = await cli('instance', 'cancel', instanceId);
    expect(again.code).not.toBe(0);
  });

  it('runs once per --idempotency-key', async () => {
    const id = await createJob('--processor', 'echo');
    const key = uniqueName('key');
    const first = await cli(
      '--json',
      'job',
      'run',
      id,
      '--idempotency-key',
      key,
      '--delay',
      '600000',
    );
    const second = await cli(
      '--json',
      'job',
      'run',
      id,
      '--idempotency-key',
      key,
      '--delay',
      '600000',
    );
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(second.stdout).id).toBe(JSON.parse(first.stdout).id);
    const other = await cli(
      '--json',
      'job',
      'run',
      id,
      '--idempotency-key',
      `${key}-2`,
      '--delay',
      '600000',
    );
    expect(JSON.parse(other.stdout).id).not.toBe(JSON.parse(first.stdout).id);
  });

  it('prints errors as the API envelope on stdout under --json, with the same exit codes', async () => {
    const cases: [string[], number, string, string?][] = [
      [['instance', 'show', '999999'], 3, 'NOT_FOUND'],
      [['job', 'run', '1', '--params', '{nope'], 2, 'INVALID_INPUT', '--params'],
      [['instance', 'list', '--limit', '0'], 2, 'INVALID_INPUT', '--limit'],
      [['job', 'create', '--name', 'x'], 2, 'INVALID_INPUT', 'body.processorName'],
    ];
    for (const [args, code, errorCode, issuePath] of cases) {
      const r = await cli('--json', ...args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr, args.join(' ')).toBe('');
      const { error } = JSON.parse(r.stdout);
      expect(error).toMatchObject({ code: errorCode, message: expect.any(String) });
      expect(Array.isArray(error.issues)).toBe(true);
      if (issuePath)
        expect(error.issues).toContainEqual(expect.objectContaining({ path: issuePath }));
    }
    const nowhere = await runCli(
      ['--json', '--data-dir', dir, '--server', 'http://127.0.0.1:1', '--app', 'a', 'job', 'list'],
      {},
      BUILT,
    );
    expect(nowhere.code).toBe(5);
    expect(JSON.parse(nowhere.stdout).error).toMatchObject({ code: 'UNAVAILABLE' });
    // Without --json, errors stay one line on stderr.
    const plain = await cli('instance', 'show', '999999');
    expect(plain).toMatchObject({ code: 3, stdout: '' });
    expect(plain.stderr).toMatch(/^drover: /);
    // A refused job spec names the flag that sets each field.
    const noProcessor = await cli('job', 'create', '--name', 'x');
    expect(noProcessor.code).toBe(2);
    expect(noProcessor.stderr).toContain('  --processor (body.processorName): ');
    const badEvery = await cli(
      ...['job', 'create', '--name', 'x', '--processor', 'p', '--schedule', 'CRON'],
      ...['--every', 'nope'],
    );
    expect(badEvery.code).toBe(2);
    expect(badEvery.stderr).toContain('  --every (body.timeExpression): invalid cron pattern');
  });

  it('job run --wait into a pipe: plain lines with state names and elapsed time, no escape codes', async () => {
    const id = await createJob('--processor', 'echo');
    const run = await cli('job', 'run', id, '--params', '{"text":"piped"}', '--wait');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(ESCAPE);
    expect(run.stdout).toMatch(/^ {2}succeeded: 1\/1 done, 0 failed \(\d+\.\ds\)$/m);
    expect(run.stdout).toMatch(/instance \d+ succeeded: piped\n$/);
    expect(run.stdout).not.toContain('SUCCEEDED');
  });

  it('job run --wait on a terminal: one line redrawn with a progress bar and elapsed time, colour unless NO_COLOR', async () => {
    const id = await createJob('--processor', 'echo');
    const args = ['--data-dir', dir, 'job', 'run', id, '--params', '{"text":"tty"}', '--wait'];
    const output = async (extra: NodeJS.ProcessEnv) => {
      const p = await spawnCliInTerminal(
        args,
        /instance \d+ succeeded: tty/,
        { ...env, ...extra },
        BUILT,
      );
      expect(await p.exited).toBe(0);
      return p.tail();
    };
    // CI runners set CI; a terminal still gets colour (Node's own check would drop it).
    const coloured = await output({ TERM: 'xterm', CI: 'true' });
    // Redrawn in place: erase the line (readline splits the output at each \r).
    expect(coloured).toContain('\x1b[2K');
    expect(coloured).toMatch(/\[#{24}\] 100% 1\/1 done, 0 failed {2}\d+\.\ds/);
    expect(coloured).toContain('\x1b[32msucceeded\x1b[39m');
    const plain = await output({ TERM: 'xterm', NO_COLOR: '1' });
    expect(plain).toMatch(/\[#{24}\] 100%/);
    expect(plain).not.toMatch(COLOUR);
  });

  it('drover monitor: one plain line per event into a pipe, the redrawn view on a terminal', async () => {
    const monitorArgs = [
      ...['--data-dir', dir, 'monitor', '--nats', cluster.nats.url],
      ...['--nats-nkey-file', cluster.nats.serverSeedFile],
    ];
    const piped = await spawnCli(monitorArgs, /watching drover\./, env, BUILT);
    try {
      await piped.waitFor(/worker parity-1 alive \(ping\)/);
      const id = await createJob('--processor', 'echo');
      const run = JSON.parse(
        (await cli('--json', 'job', 'run', id, '--params', '{"text":"seen"}', '--wait')).stdout,
      );
      await piped.waitFor(
        new RegExp(`instance ${run.id} of job ${id} succeeded on parity-1: seen`),
      );
      expect(piped.tail()).not.toMatch(ESCAPE);
    } finally {
      await stopProcess(piped, 'SIGINT');
    }
    const live = await spawnCliInTerminal(monitorArgs, /RUNNING INSTANCES/, env, BUILT);
    try {
      expect(live.tail()).toContain('\x1b[2J');
    } finally {
      process.kill(live.cliPid, 'SIGINT');
      await live.exited;
    }
  });
});
