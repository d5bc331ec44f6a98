import { readdirSync } from 'node:fs';
import {
  procStat,
  commandLine as readCommandLine,
} from '../../packages/cli/src/up/process-identity.js';

// Processes seen through /proc (Linux): who descends from whom, and whether a
// pid still runs (a zombie nobody reaped does not count: it runs no code).
// /proc is read by drover up's own process-identity.ts.

export function isRunning(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

export function commandLine(pid: number): string {
  return readCommandLine(pid) ?? '';
}

/** Every running process below `pid` (children, their children, …). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (!s) continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      if (isRunning(child)) found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/**
 * Resolves with the ms it took until none of `pids` runs; fails after
 * `timeoutMs` naming the survivors. Exits are not events we can await for
 * processes that are not our children, so this polls /proc.
 */
export async function untilGone(pids: number[], timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) {
      throw new Error(
        `still running after ${timeoutMs} ms: ${left.map((p) => `${p} ${commandLine(p)}`).join('; ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Running processes (not this one) whose command line contains `text`, e.g. a data dir. */
export function runningWith(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map(Number)
    .filter((pid) => isRunning(pid) && commandLine(pid).includes(text));
}
