import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnReadyOptions {
  /** Resolves once a line of stdout or stderr matches. */
  ready: RegExp;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  /** In a process group of its own, so a test can signal the group as a terminal's Ctrl-C does. */
  detached?: boolean;
  gid?: number;
  cwd?: string;
  /** Fail if not ready by then. */
  timeoutMs?: number;
  /** Told every output line (stdout and stderr), all of them, e.g. to search a whole log. */
  onLine?: (line: string) => void;
}

export interface ReadyProcess {
  child: ChildProcess;
  /** The line that matched `ready`. */
  match: RegExpMatchArray;
  /** Last lines of output, for error messages. */
  tail(): string;
  /** First capture of `pattern` in the output so far, if any. */
  find(pattern: RegExp): string | undefined;
  /** Resolves with the first output line (kept so far, or to come) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the process has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts a process and waits for the log line that says it is ready, so no
 * test sleeps and hopes. Rejects with the output's tail if it exits first.
 */
export function spawnReady(
  cmd: string,
  args: string[],
  options: SpawnReadyOptions,
): Promise<ReadyProcess> {
  const child = spawn(cmd, args, {
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached,
  });
  const lines: string[] = [];
  const tail = () => lines.slice(-30).join('\n');
  const watchers = new Set<(line: string) => void>();
  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${tail()}`));
      }, timeoutMs);
      const watch = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(line);
      };
      watchers.add(watch);
    });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${cmd} not ready within ${options.timeoutMs ?? 30_000} ms:\n${tail()}`));
    }, options.timeoutMs ?? 30_000);
    const onLine = (line: string) => {
      options.onLine?.(line);
      lines.push(line);
      if (lines.length > 200) lines.shift();
      for (const watch of watchers) watch(line);
      const match = line.match(options.ready);
      if (match && !settled) {
        settled = true;
        clearTimeout(timer);
        const find = (pattern: RegExp) => {
          for (const l of lines) {
            const m = l.match(pattern);
            if (m) return m[1];
          }
          return undefined;
        };
        resolve({ child, match, tail, find, waitFor, exited });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', onLine);
    }
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`could not start ${cmd}: ${err.message}`));
    });
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code} before it was ready:\n${tail()}`));
    });
  });
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end, collecting its output; with `timeoutMs`, kills it (and fails) if it runs longer. */
export function runToEnd(
  cmd: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    uid?: number;
    gid?: number;
    /** Written to its stdin, which then ends (default: no stdin). */
    input?: string;
  } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      env: options.env ?? process.env,
      stdio: 'pipe',
    });
    // No input: stdin ends at once, as /dev/null would. A child that exits
    // without reading it (EPIPE) has failed, if at all, by its exit code.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${cmd} still running after ${options.timeoutMs} ms:\n${stderr}`));
          }, options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Sends a signal and waits for the exit; SIGKILL if it outlives `graceMs`. */
export async function stopProcess(
  p: ReadyProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
