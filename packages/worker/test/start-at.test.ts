import { describe, expect, it } from 'vitest';
import { InProcessExecutor } from '../src/isolation/executor.js';
import { processClockMs, StartAt } from '../src/isolation/start-at.js';
import { basicProcessor } from '../src/sdk/processor.js';
import { LazyAbort } from '../src/tracker/abort-source.js';

// Held runs are handed to the executor a little before their time; their
// processors start at it, never before (a processor reading the clock must
// see its slot), and one stopped meanwhile never starts.

const run = { instanceId: '1', jobId: '1', jobParams: null, params: null, runAttempt: 1 };
const task = { taskId: 'root', taskName: 'root', attempt: 1, isRootTask: true, payload: null };
const hooks = {
  log: () => ({ debug() {}, info() {}, warn() {}, error() {} }),
  map: () => Promise.reject(new Error('no map here')),
};

describe('StartAt', () => {
  it('calls each at its time or later, those due together in the order added', async () => {
    const startAt = new StartAt();
    const calls: { n: number; due: number; at: number }[] = [];
    const done = new Promise<void>((resolve) => {
      const base = processClockMs();
      for (let n = 0; n < 20; n++) {
        const due = base + 15 + (n % 3) * 5.5;
        startAt.at(due, () => {
          calls.push({ n, due, at: processClockMs() });
          if (calls.length === 20) resolve();
        });
      }
    });
    await done;
    for (const c of calls) expect(c.at).toBeGreaterThanOrEqual(c.due);
    const sameTime = calls.filter((c) => c.n % 3 === 0).map((c) => c.n);
    expect(sameTime).toEqual([0, 3, 6, 9, 12, 15, 18]);
  });
});

describe('InProcessExecutor with a start time', () => {
  it('starts the processor at its time, not when handed over', async () => {
    let startedAt = 0;
    const processor = basicProcessor({
      name: 'p',
      process: () => {
        startedAt = performance.now();
        return 'ok';
      },
    });
    const due = performance.now() + 25;
    const result = await new InProcessExecutor().process(
      processor,
      run,
      task,
      hooks,
      new LazyAbort(),
      due,
    );
    expect(result).toBe('ok');
    expect(startedAt).toBeGreaterThanOrEqual(due);
  });

  it('never starts a processor stopped while it waited for its time', async () => {
    let calls = 0;
    const processor = basicProcessor({ name: 'p', process: () => `${++calls}` });
    const abort = new LazyAbort();
    const pending = new InProcessExecutor().process(
      processor,
      run,
      task,
      hooks,
      abort,
      performance.now() + 25,
    );
    abort.abort(new Error('stopped by the user'));
    await expect(pending).rejects.toThrow('stopped by the user');
    expect(calls).toBe(0);
  });
});
