import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type WatchedChild, watchChild } from '../src/up/child-watch.js';
import { isAlive } from '../src/up/process-identity.js';
import { supervise } from '../src/up/supervisor.js';

// The supervisor of `drover up`'s children, on real processes: it reports a
// restarted child's pid, never leaves running a child that became ready after
// stop(), and a child that ignores its stop signal is killed after the grace.

const log = pino({ level: 'silent' });
const started: WatchedChild[] = [];

afterEach(() => {
  for (const w of started.splice(0)) if (w.child.exitCode === null) w.child.kill('SIGKILL');
});

/** A node process that prints "ready" once it runs (ignoring SIGTERM if `stubborn`). */
async function child(stubborn = false): Promise<WatchedChild> {
  const code = `${stubborn ? "process.on('SIGTERM', () => {});" : ''} console.log('ready'); setInterval(() => {}, 1000);`;
  const watched = watchChild(spawn(process.execPath, ['-e', code]), 'test-child', log);
  started.push(watched);
  await watched.waitForLine(/^ready$/, 10_000);
  return watched;
}

describe('supervise', () => {
  it('tells onRestart the pid of the restarted child', async () => {
    const first = await child();
    const restarted: number[] = [];
    let told!: () => void;
    const onRestartCalled = new Promise<void>((resolve) => {
      told = resolve;
    });
    const supervised = supervise({
      name: 'test-child',
      first,
      restart: () => child(),
      onRestart: async (pid) => {
        restarted.push(pid);
        told();
      },
      stopSignal: 'SIGTERM',
      log,
    });
    first.child.kill('SIGKILL');
    await onRestartCalled;
    expect(restarted).toEqual([supervised.pid]);
    expect(supervised.pid).not.toBe(first.child.pid);
    await supervised.stop();
  });

  it('stops a child that became ready after stop() was called', async () => {
    const first = await child();
    let restarting!: () => void;
    const restartCalled = new Promise<void>((resolve) => {
      restarting = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let late: WatchedChild | undefined;
    const supervised = supervise({
      name: 'test-child',
      first,
      // Ignores the signal: it becomes ready only once the gate opens, after stop().
      restart: async () => {
        restarting();
        await gate;
        late = await child();
        return late;
      },
      stopSignal: 'SIGTERM',
      log,
    });
    first.child.kill('SIGKILL');
    await restartCalled;
    const stopping = supervised.stop();
    release();
    await stopping;
    expect(late).toBeDefined();
    expect(isAlive(late?.child.pid as number)).toBe(false);
  });

  it('kills a child that ignores its stop signal after the grace, and says so', async () => {
    const stubborn = await child(true);
    const supervised = supervise({
      name: 'test-child',
      first: stubborn,
      restart: () => child(),
      stopSignal: 'SIGTERM',
      stopGraceMs: 300,
      log,
    });
    await expect(supervised.stop()).rejects.toThrow(
      'test-child did not stop within 0.3 s of SIGTERM; it was killed (SIGKILL)',
    );
    expect(stubborn.child.signalCode).toBe('SIGKILL');
  });
});
