import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  acquireDataDirLock,
  DataDirInUseError,
  type LockHolder,
  lockFile,
  recoveryFile,
} from '../src/up/data-dir-lock.js';
import { bootId, isAlive, processStartTime } from '../src/up/process-identity.js';

// The data dir lock on its own: a live holder refuses, a stale one (dead pid,
// or a pid now another process) is recovered by exactly one contender, and
// only the recorded children that are still ours are ended.

const log = pino({ level: 'silent' });
let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-lock-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A process that is running (`sleep`), to stand for a holder or a child. */
async function running(cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

/** A pid that no process has any more. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

const staleLock = (holder: Partial<LockHolder>) =>
  writeFile(
    lockFile(dir),
    JSON.stringify({ host: hostname(), startedAt: 1, children: [], ...holder }),
  );

/** Six acquirers at once: one gets the lock, the others are told who holds it. */
async function expectOneWinner(stagger = 0): Promise<void> {
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, async (_, i) => {
      // Each starts a few event-loop turns after the previous one: the rounds cover other interleavings.
      for (let turn = 0; turn < i * stagger; turn++) await new Promise(setImmediate);
      return acquireDataDirLock(dir, log);
    }),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  expect(won).toHaveLength(1);
  for (const r of results)
    if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DataDirInUseError);
}

describe('data dir lock', () => {
  it('refuses a second holder while the first is alive, and frees on release', async () => {
    const first = await acquireDataDirLock(dir, log);
    const second = acquireDataDirLock(dir, log);
    await expect(second).rejects.toBeInstanceOf(DataDirInUseError);
    await expect(second).rejects.toThrow(
      `data dir ${dir} is in use by drover up (pid ${process.pid}, started `,
    );
    await first.release();
    const again = await acquireDataDirLock(dir, log);
    await again.release();
  });

  it('says where the lock file is and how to remove it when its holder is gone', async () => {
    const first = await acquireDataDirLock(dir, log);
    await expect(acquireDataDirLock(dir, log)).rejects.toThrow(
      `lock file ${lockFile(dir)}: if you know that process is gone, remove it (rm ${lockFile(dir)}) and start again`,
    );
    await first.release();
  });

  it('recovers a lock from another boot whatever its host (a container restarted with a new hostname)', async () => {
    // The pid is alive now (ours), but it was written before a reboot: not that process.
    await staleLock({ pid: process.pid, host: 'old-container', bootId: 'another-boot' });
    const lock = await acquireDataDirLock(dir, log);
    expect(JSON.parse(await readFile(lockFile(dir), 'utf8'))).toMatchObject({
      host: hostname(),
      bootId: await bootId(),
    });
    await lock.release();
  });

  it('recovers a lock from another host of this boot when its pid is dead', async () => {
    await staleLock({ pid: await deadPid(), host: 'other-container', bootId: await bootId() });
    const lock = await acquireDataDirLock(dir, log);
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (start time differs)', async () => {
    const other = await running('sleep', ['30']);
    await staleLock({ pid: other.pid as number, pidStartTime: '1' });
    const lock = await acquireDataDirLock(dir, log);
    expect(JSON.parse(await readFile(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    expect(isAlive(other.pid as number)).toBe(true); // not ours to end
    await lock.release();
  });

  it('lets exactly one of several racing recoverers win a stale lock', async () => {
    await staleLock({ pid: await deadPid() });
    await expectOneWinner();
  });

  it('lets exactly one win when a recoverer died mid-recovery (its guard is stale too)', async () => {
    // Racing recoverers each find the dead guard: none may remove a guard another just took.
    for (let round = 0; round < 40; round++) {
      const dead = await deadPid();
      await staleLock({ pid: dead });
      await writeFile(
        recoveryFile(dir, [`${dead}-1`]),
        JSON.stringify({ host: hostname(), pid: dead, startedAt: 2, children: [] }),
      );
      await expectOneWinner(round % 8);
      await rm(lockFile(dir), { force: true });
    }
  });

  it('ends a recorded nats-server still running, and leaves a recorded pid that is not ours', async () => {
    const nats = await running('nats-server', ['-a', '127.0.0.1', '-p', '-1']);
    const stranger = await running('sleep', ['30']);
    const exited = new Promise((resolve) => nats.once('exit', resolve));
    await staleLock({
      pid: await deadPid(),
      children: [
        { pid: nats.pid as number, startTime: await processStartTime(nats.pid as number) },
        { pid: stranger.pid as number, startTime: await processStartTime(stranger.pid as number) },
      ],
    });
    const lock = await acquireDataDirLock(dir, log);
    await exited;
    expect(isAlive(stranger.pid as number)).toBe(true);
    await lock.release();
  });
});
