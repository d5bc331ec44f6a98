import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

// Telling whether a pid is still the process we recorded: pids are reused, so
// a pid alone proves nothing; its start time (Linux) and command line do.
// The test harness reads processes through these too (test/harness/process-tree.ts).

/** What `/proc/<pid>/stat` says of a process; undefined off Linux or if it is gone. */
export function procStat(
  pid: number,
): { state: string; ppid: number; startTime: string | undefined } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces: fields 3… follow its last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[22 - 3] };
  } catch {
    return undefined;
  }
}

/** A process's command line, its arguments joined by spaces; undefined if unreadable. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (ours or another user's) and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie has exited; it only waits for a parent (maybe a pid 1 that never reaps) to collect it.
  // No /proc (not Linux): the signal check is all there is.
  return procStat(pid)?.state !== 'Z';
}

/** `/proc/<pid>/stat` field 22 (start time in clock ticks since boot); undefined off Linux or if gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  return procStat(pid)?.startTime;
}

/** The kernel's boot id (Linux), undefined elsewhere: a pid from another boot is not a process now. */
export async function bootId(): Promise<string | undefined> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

const STOP_WAIT_MS = 5_000;

/**
 * Ends a child a crashed `drover up` left running, if the pid is still that
 * child: same start time, and a command line that is our nats-server, or a
 * postgres on this data dir. Anything else with that pid is left alone.
 */
export async function stopStrayChild(
  child: { pid: number; startTime?: string },
  dataDir: string,
  log: Logger,
): Promise<void> {
  if (!isAlive(child.pid)) return;
  const start = await processStartTime(child.pid);
  if (child.startTime !== undefined && start !== undefined && start !== child.startTime) return;
  const cmd = commandLine(child.pid);
  const ours =
    cmd !== undefined &&
    (/(^|\/)nats-server\b/.test(cmd) || (/postgres/.test(cmd) && cmd.includes(dataDir)));
  if (!ours) return;
  log.warn(
    { childPid: child.pid, command: cmd },
    'stopping a child the crashed drover up left running',
  );
  // postgres: SIGINT is its fast shutdown (clients cut, data flushed); nats-server: SIGTERM.
  process.kill(child.pid, /postgres/.test(cmd) ? 'SIGINT' : 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (isAlive(child.pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(child.pid)) process.kill(child.pid, 'SIGKILL');
}
