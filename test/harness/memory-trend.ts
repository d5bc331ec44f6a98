import { readFileSync } from 'node:fs';

// Memory bounds measured as a trend, not one sample against a constant: a
// process's RSS jumps as its heap settles (warm-up, a GC growing a space), so
// only growth that keeps going is a leak.

/** Resident set size of a process, in MiB, from /proc. */
export function rssMb(pid: number | undefined): number {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1];
  return Number(kb) / 1024;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Growth that lasts across a series of samples taken after warm-up: the
 * smaller of the growth over its first half and over its second half (each
 * end the median of three samples). A leak grows in both halves; a one-off
 * step, however large, lands in one half only and reads as (near) zero.
 */
export function sustainedGrowth(samples: number[]): number {
  if (samples.length < 9) throw new RangeError(`need at least 9 samples, got ${samples.length}`);
  const at = (i: number) => median(samples.slice(i, i + 3));
  const mid = (samples.length >> 1) - 1;
  const start = at(0);
  const middle = at(mid);
  const end = at(samples.length - 3);
  return Math.min(middle - start, end - middle);
}
