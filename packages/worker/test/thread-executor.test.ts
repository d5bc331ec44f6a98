import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testLogger } from '../../../test/harness/logger.js';
import { ThreadExecutor } from '../src/isolation/thread-executor.js';
import type { Processor } from '../src/sdk/processor.js';
import { LazyAbort, signalSource } from '../src/tracker/abort-source.js';
import {
  blockLater,
  blockThenStamp,
  blockThread,
  throwsObject,
  wallStart,
  whichThread,
} from './fixtures/thread-processors.js';

// A processor that blocks its thread must not be handed more tasks while
// other threads are free: they would wait for it, however idle the rest are.

const MODULE = fileURLToPath(new URL('./fixtures/thread-processors.ts', import.meta.url));
// Threads inherit this process's flags; the test runner's --expose-gc is not one a thread takes.
process.execArgv = process.execArgv.filter((flag) => flag !== '--expose-gc');
const executor = new ThreadExecutor([MODULE], 2, testLogger('threads'));
afterAll(() => executor.close());

const signal = signalSource(new AbortController().signal);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
let next = 0;
/** Runs a task; `onLog` hears the lines it logs. */
function run(
  processor: Processor,
  params: unknown = null,
  onLog: (line: string) => void = () => {},
): Promise<string> {
  const hooks = {
    log: () => ({ ...silent, info: onLog }),
    map: () => Promise.reject(new Error('no map here')),
  };
  const id = String(++next);
  const data = { instanceId: id, jobId: '1', jobParams: null, params, runAttempt: 1 };
  const task = { taskId: 'root', taskName: 'root', attempt: 1, isRootTask: true, payload: null };
  return executor.process(processor, data, task, hooks, signal) as Promise<string>;
}

/** Quick tasks sent while `blocker` blocks a thread finish first, all on the other thread. */
async function quickTasksPassBlocked(blocker: Processor): Promise<void> {
  // Both threads up and working (a task goes to the least loaded one).
  const seen = new Set<string>();
  while (seen.size < 2) {
    for (const t of await Promise.all([run(whichThread), run(whichThread)])) seen.add(t);
  }
  const order: string[] = [];
  let started: () => void = () => {};
  const blocking = new Promise<void>((resolve) => {
    started = resolve;
  });
  const blocked = run(blocker, { ms: 3_000 }, started).then((t) => {
    order.push('blocker');
    return t;
  });
  await blocking;
  // Quick tasks, a few at a time, while it blocks its thread.
  const quick: string[] = [];
  for (let round = 0; round < 5; round++) {
    quick.push(...(await Promise.all([run(whichThread), run(whichThread), run(whichThread)])));
  }
  order.push('quick tasks');
  const blockedThread = await blocked;
  expect(order).toEqual(['quick tasks', 'blocker']);
  expect(quick).not.toContain(blockedThread);
}

describe('processor threads', () => {
  it('fails a task that throws a plain object with the object as JSON, not [object Object]', async () => {
    await expect(run(throwsObject)).rejects.toThrow('{"code":"E_WEIRD","detail":"not an Error"}');
  });

  it('gives a blocked thread no more tasks while another thread is free', async () => {
    await quickTasksPassBlocked(blockThread);
  }, 20_000);

  it('also when the processor blocks its thread after yielding first', async () => {
    await quickTasksPassBlocked(blockLater);
  }, 20_000);

  it('starts a task handed over ahead of its time at that time, in its thread', async () => {
    const data = { instanceId: 'held', jobId: '1', jobParams: null, params: null, runAttempt: 1 };
    const task = { taskId: 'root', taskName: 'root', attempt: 1, isRootTask: true, payload: null };
    const hooks = { log: () => silent, map: () => Promise.reject(new Error('no map here')) };
    const dueWall = Date.now() + 40;
    const due = performance.now() + 40;
    const started = await executor.process(wallStart, data, task, hooks, signal, due);
    // Date.now() counts whole milliseconds: at most 1 ms below the due time.
    expect(Number(started)).toBeGreaterThanOrEqual(dueWall - 1);
    // One stopped while it waited (on its thread) never starts.
    const abort = new LazyAbort();
    const stopped = executor.process(
      wallStart,
      { ...data, instanceId: 'held-stopped' },
      task,
      hooks,
      abort,
      performance.now() + 40,
    );
    // After the hand-over: the task is on its thread by then.
    await new Promise((resolve) => setImmediate(resolve));
    abort.abort(new Error('stopped while held'));
    await expect(stopped).rejects.toThrow('stopped while held');
  });

  it('starts a held task at its time though its thread read the hand-over late', async () => {
    // One thread: the blocker and the held task share it.
    const single = new ThreadExecutor([MODULE], 1, testLogger('one-thread'));
    try {
      const task = {
        taskId: 'root',
        taskName: 'root',
        attempt: 1,
        isRootTask: true,
        payload: null,
      };
      const data = (id: string, params: unknown = null) => ({
        instanceId: id,
        jobId: '1',
        jobParams: null,
        params,
        runAttempt: 1,
      });
      const hooks = { log: () => silent, map: () => Promise.reject(new Error('no map here')) };
      // The thread up first (until then tasks wait here, and go over together).
      await single.process(whichThread, data('warm-up'), task, hooks, signal);
      // Held 5 ms (its batch is acknowledged at once), then it blocks the thread 300 ms.
      const handed = performance.now();
      const blocker = single.process(
        blockThenStamp,
        data('blocker', { ms: 300 }),
        task,
        hooks,
        signal,
        handed + 5,
      );
      // Handed over while the thread blocks (its log lines wait too: there is
      // no event to await), due at +70: the thread reads it when the blocker
      // ends. Sooner than 50 ms after the thread's last word, so it is sent,
      // not held back for a liveness ping.
      await new Promise((resolve) => setTimeout(resolve, 25));
      const held = single.process(wallStart, data('held-late'), task, hooks, signal, handed + 70);
      const blockerEnd = Number(await blocker);
      const heldStart = Number(await held);
      // Past its time by then: it starts at once. Counted from the thread's
      // receipt, as before, it started ~45 ms after the blocker ended.
      expect(heldStart - blockerEnd).toBeLessThan(25);
    } finally {
      await single.close();
    }
  });

  it('hands a burst after a quiet spell to the threads at once, without pinging them first', async () => {
    // Quiet for longer than the liveness window: a thread with no tasks is not suspect.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const pings = executor.pingsSent;
    const threads = await Promise.all(Array.from({ length: 200 }, () => run(whichThread)));
    expect(threads).toHaveLength(200);
    // Before: the first task went alone with a ping, the rest waited for its answer.
    expect(executor.pingsSent).toBe(pings);
  });
});
