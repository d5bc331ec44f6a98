import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

// The output of a child of `drover up`: each line goes to the log (debug, or
// warn for a fatal one), the last ones are kept for error messages, and a
// line that says the child is ready is waited for as an event.

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchedChild {
  child: ChildProcess;
  /** Last lines of output. */
  tail(): string;
  /** Resolves with the first line matching `pattern`; rejects if the child exits first or `ms` pass. */
  waitForLine(pattern: RegExp, ms: number): Promise<string>;
  /** Resolves once the child has exited (never rejects). */
  exited: Promise<ChildExit>;
}

const FATAL = /\b(FATAL|PANIC|\[FTL\]|\[ERR\])\b/;

export function watchChild(child: ChildProcess, name: string, log: Logger): WatchedChild {
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A spawn failure emits 'error' and no 'exit'.
    child.once('error', (err) => {
      lines.push(`${name}: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  // 'exit' can come before the last of its output is read: a failure's
  // message waits for the streams to close (briefly: a grandchild may hold them).
  const outputRead = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    void exited.then(() => setTimeout(resolve, 1_000).unref());
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 30) lines.shift();
      if (FATAL.test(line)) log.warn({ output: line }, `${name} said`);
      else log.debug({ output: line }, `${name} said`);
      for (const watch of watchers) watch(line);
    });
  }
  const tail = () => lines.join('\n');
  const waitForLine = (pattern: RegExp, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        watchers.delete(watch);
      };
      const watch = (line: string) => {
        if (!pattern.test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name} was not ready within ${ms / 1000} s:\n${tail()}`));
      }, ms);
      watchers.add(watch);
      void exited.then(async ({ code, signal }) => {
        done();
        await outputRead;
        reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${tail()}`));
      });
    });
  return { child, tail, waitForLine, exited };
}

/** How long a child gets to exit on its stop signal before SIGKILL (Postgres's fast shutdown can take seconds). */
export const STOP_GRACE_MS = 15_000;

/**
 * Stops a child with `signal` and waits for its exit, SIGKILLing it after
 * `graceMs`: resolves true if it exited in time, false if it had to be killed.
 */
export async function stopChild(
  watched: WatchedChild,
  signal: NodeJS.Signals,
  graceMs = STOP_GRACE_MS,
): Promise<boolean> {
  const { child } = watched;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  const inTime = await Promise.race([watched.exited.then(() => true as const), late]);
  clearTimeout(timer);
  if (!inTime) {
    child.kill('SIGKILL');
    await watched.exited;
  }
  return inTime;
}
