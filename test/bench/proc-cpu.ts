import { readdirSync, readFileSync } from 'node:fs';

// CPU seconds of processes, read from /proc (Linux): utime + stime, and for a
// process tree (Postgres: the postmaster and its backends) the children too.

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux Node supports

/** Fields of /proc/<pid>/stat after the command's closing ')' (field 3 is index 0). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) one process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  const f = pid ? statFields(pid) : undefined;
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND; // utime, stime
}

/**
 * CPU seconds of a process and everything below it: its own, its reaped
 * children's (cutime + cstime, so a backend that exits between two readings
 * still counts) and those of the descendants still running.
 */
export function treeCpuSeconds(pid: number | undefined): number {
  const f = pid ? statFields(pid) : undefined;
  if (!pid || !f) return 0;
  const own = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  let ticks = own;
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      const c = statFields(child);
      // Its own time and that of its reaped children (a zombie's is not yet in our cutime).
      if (c) ticks += Number(c[11]) + Number(c[12]) + Number(c[13]) + Number(c[14]);
      walk(child);
    }
  };
  walk(pid);
  return ticks / TICKS_PER_SECOND;
}
