import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../harness/drover-cli.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';
import { descendants, runningWith, untilGone } from '../harness/process-tree.js';

// `drover up` stopping: Ctrl-C while it starts stops what started and frees
// the data dir (exit 130); a child that will not stop is killed after the
// grace and named (exit 6); and a data dir whose credentials.json was lost
// while its app lives on in Postgres fails with words, not refused workers.

const dirs: string[] = [];
const running: ReadyProcess[] = [];
const newDataDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'drover-up-stop-'));
  dirs.push(dir);
  return dir;
};
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

afterAll(async () => {
  await Promise.all(running.map((p) => stopProcess(p, 'SIGKILL')));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// docs/guarantees.md: children of a `drover up` that is gone are gone within 5 s.
const CHILDREN_GONE_MS = 5_000;

describe('drover up stopping', () => {
  it('Ctrl-C while starting: stops what started, removes the lock, exits 130', async () => {
    const dataDir = await newDataDir();
    const starting = await spawnCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '1', '--log-level', 'info'],
      /starting nats-server and Postgres/,
    );
    running.push(starting);
    expect(await exists(join(dataDir, 'drover-up.lock'))).toBe(true);
    const children = descendants(starting.child.pid as number);
    starting.child.kill('SIGINT');
    expect(await starting.exited).toBe(130);
    expect(starting.tail()).not.toContain('cluster running');
    expect(starting.tail()).toContain('drover up: stopped by SIGINT while starting');
    expect(await exists(join(dataDir, 'drover-up.lock'))).toBe(false);
    // Stopped before it exited: nothing of it runs (the bound only allows for /proc catching up).
    await untilGone(children, CHILDREN_GONE_MS);
    expect(runningWith(dataDir)).toEqual([]);
  }, 120_000);

  it('kills a postgres that does not stop, and exits 6 naming it', async () => {
    const dataDir = await newDataDir();
    const u = await spawnCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0'],
      /Ctrl-C stops everything/,
    );
    running.push(u);
    const children = descendants(u.child.pid as number);
    const postmaster = Number(
      (await readFile(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    // Stopped, the postmaster cannot act on its SIGINT (its backends still serve the server's pool).
    process.kill(postmaster, 'SIGSTOP');
    u.child.kill('SIGINT');
    expect(await u.exited).toBe(6);
    expect(u.tail()).toContain(
      'drover up: could not stop cleanly: postgres (postgres did not stop within 15 s of SIGINT; it was killed (SIGKILL))',
    );
    expect(await exists(join(dataDir, 'drover-up.lock'))).toBe(false);
    await untilGone(children, CHILDREN_GONE_MS);
  }, 120_000);

  it('refuses to go on when credentials.json is lost but its app exists, naming the file', async () => {
    const dataDir = await newDataDir();
    const first = await spawnCli(
      ['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0'],
      /Ctrl-C stops everything/,
    );
    running.push(first);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);

    const credentials = join(dataDir, 'credentials.json');
    await rm(credentials);
    const again = await runCli(['--data-dir', dataDir, 'up', '--port', '0', '--workers', '0']);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain(
      `app demo already exists in the database but ${credentials} is missing: restore that file`,
    );
    // No new secret was written in its place, nothing was left running or locked.
    expect(await exists(credentials)).toBe(false);
    expect(await exists(join(dataDir, 'drover-up.lock'))).toBe(false);
    expect(runningWith(dataDir)).toEqual([]);
  }, 120_000);
});
