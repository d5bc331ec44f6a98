import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../../packages/server/test/support/server-fixture.js';
import { buildBinaries } from '../harness/built-binaries.js';
import { runCli, spawnCli } from '../harness/drover-cli.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { stopProcess } from '../harness/process.js';

// The drover CLI against a live cluster (a drover-server and a drover-worker
// process): human and --json output, bad input, and exit codes. The CLI runs
// built, as users run it: a test makes many calls, and tsx's start-up per call
// made this file outlast its timeouts on a loaded machine.

const db = useDatabase();
let cluster: DroverCluster;
let dir: string;
let cli: (...args: string[]) => ReturnType<typeof runCli>;
const BUILT = { built: true };

beforeAll(async () => {
  await buildBinaries();
  cluster = await startDroverCluster(db.url);
  await cluster.startWorker('cli-1');
  dir = await mkdtemp(join(tmpdir(), 'drover-cli-'));
  // An empty data dir: everything comes from flags and variables.
  cli = (...args) => runCli(['--data-dir', dir, ...args], appEnv(), BUILT);
});

/** The variables that point the CLI at the cluster's server and app. */
const appEnv = () => ({
  DROVER_SERVER_URL: cluster.serverUrl,
  DROVER_APP: cluster.app.name,
  DROVER_APP_SECRET: cluster.app.secret,
});

/** A new job of the `echo` processor, by the CLI; its id. */
async function echoJob(name: string): Promise<string> {
  const created = await cli(
    '--json',
    'job',
    'create',
    '--name',
    uniqueName(name),
    '--processor',
    'echo',
  );
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout).id as string;
}
afterAll(async () => {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('drover CLI', () => {
  it('creates jobs from flags and from YAML, lists and shows them with next fire times', async () => {
    const name = uniqueName('echo');
    const created = await cli('--json', 'job', 'create', '--name', name, '--processor', 'echo');
    expect(created.code).toBe(0);
    const job = JSON.parse(created.stdout);
    expect(job.spec).toMatchObject({ name, processorName: 'echo', timeExpressionType: 'API' });

    const file = join(dir, 'cron.yaml');
    await writeFile(
      file,
      'name: nightly\nprocessorName: echo\ntimeExpressionType: CRON\ntimeExpression: "0 0 3 * * *"\njobParams:\n  text: hi\n',
    );
    const fromFile = await cli('job', 'create', '-f', file);
    expect(fromFile.code).toBe(0);
    const cronId = fromFile.stdout.match(/job (\d+) created/)?.[1] as string;

    const list = await cli('job', 'list');
    expect(list.stdout).toMatch(/^ID\s+NAME\s+PROCESSOR/);
    expect(list.stdout).toContain(name);
    const shown = await cli('--json', 'job', 'show', cronId);
    expect(JSON.parse(shown.stdout).nextTriggers).toHaveLength(5);
    expect((await cli('job', 'show', cronId)).stdout).toContain('next fire times: ');
  });

  it('disables, enables and deletes a job', async () => {
    const created = await cli(
      '--json',
      'job',
      'create',
      '--name',
      uniqueName('cron'),
      '--processor',
      'echo',
      '--schedule',
      'CRON',
      '--every',
      '0 0 3 * * *',
    );
    const jobId = JSON.parse(created.stdout).id as string;
    const disabled = await cli('job', 'disable', jobId);
    expect(disabled).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`job ${jobId} disabled`),
    });
    expect(JSON.parse((await cli('--json', 'job', 'show', jobId)).stdout).enabled).toBe(false);
    expect((await cli('job', 'enable', jobId)).code).toBe(0);
    expect(JSON.parse((await cli('--json', 'job', 'show', jobId)).stdout).enabled).toBe(true);

    const deleted = await cli('job', 'delete', jobId);
    expect(deleted).toMatchObject({ code: 0, stdout: `job ${jobId} deleted\n` });
    const gone = await cli('job', 'show', jobId);
    expect(gone.code).toBe(3);
    expect((await cli('job', 'delete', jobId)).code).toBe(3);
  });

  it('runs a job with --wait, then shows, lists and logs the instance', async () => {
    const { stdout } = await cli(
      '--json',
      'job',
      'create',
      '--name',
      uniqueName('e'),
      '--processor',
      'echo',
    );
    const jobId = JSON.parse(stdout).id as string;
    const run = await cli(
      '--json',
      'job',
      'run',
      jobId,
      '--params',
      '{"text":"from the cli"}',
      '--wait',
    );
    expect(run.code).toBe(0);
    const instance = JSON.parse(run.stdout);
    expect(instance).toMatchObject({ status: 'SUCCEEDED', result: 'from the cli' });
    expect(run.stderr).toContain('succeeded');

    const show = await cli('instance', 'show', instance.id);
    expect(show.stdout).toContain('tasks: 1 total, 1 succeeded, 0 failed');
    const list = await cli('--json', 'instance', 'list', '--job', jobId);
    expect(JSON.parse(list.stdout).map((i: { id: string }) => i.id)).toContain(instance.id);
    const logs = await cli('instance', 'logs', instance.id, '--follow');
    expect(logs.stdout).toContain(`echoing on ${instance.id}`);
    const refused = await cli('instance', 'retry', instance.id);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('only a FAILED, STOPPED or CANCELED instance can be retried');
  });

  it('runs a job many times through the bulk API with --count and --runs', async () => {
    const jobId = await echoJob('bulk');
    const counted = await cli(
      '--json',
      'job',
      'run',
      jobId,
      '--count',
      '3',
      '--params',
      '{"text":"n"}',
    );
    expect(counted.code).toBe(0);
    const three = JSON.parse(counted.stdout).instances as { id: string; params: unknown }[];
    expect(three.map((i) => i.params)).toEqual([{ text: 'n' }, { text: 'n' }, { text: 'n' }]);

    const file = join(dir, 'runs.json');
    await writeFile(
      file,
      JSON.stringify([
        { params: { text: 'a' }, idempotencyKey: 'k' },
        { params: { text: 'b' } },
        { idempotencyKey: 'k' },
      ]),
    );
    const fromFile = await cli('job', 'run', jobId, '--runs', file);
    expect(fromFile.code).toBe(0);
    const ids = [...fromFile.stdout.matchAll(/instance (\d+) /g)].map((m) => m[1]);
    expect(ids).toHaveLength(3);
    expect(ids[2]).toBe(ids[0]);

    await writeFile(file, JSON.stringify([{}, { delayMs: -1 }]));
    const bad = await cli('job', 'run', jobId, '--runs', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('body.runs[1].delayMs');
    const both = await cli('job', 'run', jobId, '--count', '2', '--wait');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--wait follows one run');
    // One key for n copies would make one run, shown n times.
    const keyed = await cli('job', 'run', jobId, '--count', '3', '--idempotency-key', 'once');
    expect(keyed.code).toBe(2);
    expect(keyed.stderr).toMatch(/--count .*--idempotency-key/);
  });

  it('reads --params from a file (@file) or stdin (@-), naming the file when it cannot', async () => {
    const created = await cli(
      '--json',
      'job',
      'create',
      '--name',
      uniqueName('at'),
      '--processor',
      'echo',
    );
    const jobId = JSON.parse(created.stdout).id as string;
    const file = join(dir, 'params.json');
    await writeFile(file, '{"text":"from a file"}');
    const fromFile = await cli('--json', 'job', 'run', jobId, '--params', `@${file}`);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).params).toEqual({ text: 'from a file' });
    // As an editor may save it: with a byte order mark.
    await writeFile(file, '\uFEFF{"text":"with a BOM"}');
    const withBom = await cli('--json', 'job', 'run', jobId, '--params', `@${file}`);
    expect(JSON.parse(withBom.stdout).params).toEqual({ text: 'with a BOM' });
    const fromStdin = await runCli(
      ['--data-dir', dir, '--json', 'job', 'run', jobId, '--params', '@-'],
      appEnv(),
      { ...BUILT, input: '{"text":"from stdin"}' },
    );
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout).params).toEqual({ text: 'from stdin' });
    const missing = await cli('job', 'run', jobId, '--params', `@${join(dir, 'none.json')}`);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--params: cannot read ${join(dir, 'none.json')}`);
    await writeFile(file, '{nope');
    const bad = await cli('job', 'run', jobId, '--params', `@${file}`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--params must be JSON (read from ${file})`);
  });

  it('exits 1 when the awaited run fails, retries it, and stops a running one', async () => {
    const { stdout } = await cli(
      '--json',
      'job',
      'create',
      '--name',
      uniqueName('f'),
      '--processor',
      'echo',
    );
    const jobId = JSON.parse(stdout).id as string;
    const failed = await cli('job', 'run', jobId, '--params', '{"text":42}', '--wait');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/instance (\d+) failed: .*text/);
    const failedId = failed.stdout.match(/instance (\d+) failed/)?.[1] as string;
    const retry = await cli('--json', 'instance', 'retry', failedId);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout).retryOf).toBe(failedId);

    const forever = await cli(
      '--json',
      'job',
      'create',
      '--name',
      uniqueName('fv'),
      '--processor',
      'forever',
    );
    const run = await cli('--json', 'job', 'run', JSON.parse(forever.stdout).id);
    const stopped = await cli('instance', 'stop', JSON.parse(run.stdout).id);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain('STOPPED');
  });

  it('lists workers', async () => {
    const workers = await cli('--json', 'worker', 'list');
    expect(JSON.parse(workers.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ workerId: 'cli-1', alive: true })]),
    );
  });

  it('keeps the data of root under /var/lib/drover by default (postgres cannot reach /root)', async () => {
    // The suite runs as root (CI, this machine): Postgres must run as another user.
    expect(process.getuid?.() ?? -1).toBe(0);
    const help = await runCli(['--help'], {}, BUILT);
    expect(help.stdout).toContain('(default: "/var/lib/drover")');
    const chosen = await runCli(['--help'], { DROVER_DATA_DIR: '/srv/drover' }, BUILT);
    expect(chosen.stdout).toContain('(default: "/srv/drover")');
  });

  it('says what to fix, with an exit code scripts can rely on', async () => {
    const missing = await cli('job', 'create', '--name', 'x');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('processorName');

    const badJson = await cli('job', 'run', '1', '--params', '{nope');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--params must be JSON');

    // Past the server's 1 MiB body limit: the input to fix, named by its flag.
    const big = join(dir, 'big.json');
    await writeFile(big, JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) }));
    const tooLarge = await cli('job', 'run', '1', '--params', `@${big}`);
    expect(tooLarge.code).toBe(2);
    expect(tooLarge.stderr).toContain('--params: larger than the 1048576 bytes');

    // Commander's own errors: one line and a pointer at --help, not the whole help.
    const unknownFlag = await cli('job', 'list', '--nope');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr.trim().split('\n')).toEqual([
      "error: unknown option '--nope'",
      '(add --help for the usage)',
    ]);

    const badFlag = await cli('instance', 'list', '--limit', '0');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('--limit must be 1-1000');

    const unknown = await cli('instance', 'show', '999999');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('not found');

    const wrongSecret = await runCli(
      ['--data-dir', dir, 'job', 'list'],
      {
        DROVER_SERVER_URL: cluster.serverUrl,
        DROVER_APP: cluster.app.name,
        DROVER_APP_SECRET: 'not-the-secret-at-all',
      },
      BUILT,
    );
    expect(wrongSecret.code).toBe(4);
    expect(wrongSecret.stderr).toContain('DROVER_APP_SECRET');

    const nowhere = await runCli(
      ['--data-dir', dir, '--server', 'http://127.0.0.1:1', '--app', 'a', 'job', 'list'],
      {},
      BUILT,
    );
    expect(nowhere.code).toBe(5);
    expect(nowhere.stderr).toContain('cannot reach the Drover server');

    const noServer = await runCli(['--data-dir', dir, 'job', 'list'], {}, BUILT);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain('drover up');
  });

  it('takes an app secret of 12 characters, as the server does, and refuses a shorter one', async () => {
    const asAdmin = (...args: string[]) =>
      runCli(
        ['--data-dir', dir, ...args],
        { DROVER_SERVER_URL: cluster.serverUrl, DROVER_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
        BUILT,
      );
    const name = uniqueName('app12');
    const created = await asAdmin('app', 'create', name, '--new-secret', 'twelve-chars');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`app ${name} created`);
    const short = await asAdmin(
      'app',
      'create',
      uniqueName('app11'),
      '--new-secret',
      'eleven-char',
    );
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--new-secret must be at least 12 characters');
  });

  // The last two: they restart the cluster's server.
  it('rides out a server restart during `job run --wait` and reports the run it followed', async () => {
    const jobId = await echoJob('rs');
    // Due in 6 s: not final before the kill below (even on a loaded machine), dispatched by the restarted server.
    const waiting = await spawnCli(
      [
        '--data-dir',
        dir,
        'job',
        'run',
        jobId,
        '--params',
        '{"text":"survived"}',
        '--delay',
        '6000',
        '--wait',
      ],
      /\(\d+\.\ds\)$/,
      appEnv(),
      BUILT,
    );
    await cluster.restartServer();
    const code = await waiting.exited;
    const out = waiting.tail();
    expect(code, out).toBe(0);
    expect(out).toMatch(/server unreachable \(.+\), asking again/);
    expect(out).toMatch(/instance \d+ succeeded: survived/);
  }, 90_000);

  it('follows logs across a server that is down when it starts and comes back', async () => {
    const jobId = await echoJob('lf');
    const ran = await cli(
      '--json',
      'job',
      'run',
      jobId,
      '--params',
      '{"text":"x"}',
      '--delay',
      '2000',
    );
    const id = JSON.parse(ran.stdout).id as string;
    await stopProcess(cluster.server, 'SIGKILL');
    const following = await spawnCli(
      ['--data-dir', dir, 'instance', 'logs', id, '--follow'],
      /server unreachable \(.+\), asking again/,
      appEnv(),
      BUILT,
    );
    await cluster.restartServer();
    // It ends once the run does (the restarted server dispatched it), with its lines.
    expect(await following.exited, following.tail()).toBe(0);
    expect(following.tail()).toContain(`echoing on ${id}`);
    const shown = await cli('--json', 'instance', 'show', id);
    expect(JSON.parse(shown.stdout), shown.stdout).toMatchObject({ status: 'SUCCEEDED' });
  }, 90_000);
});
