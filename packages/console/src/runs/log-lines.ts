import type { LogLine } from '@drover/client';

/** Log line ids are decimal ids: order them as numbers (a string compare puts 10 before 9). */
function order(a: LogLine, b: LogLine): number {
  const x = BigInt(/^\d+$/.test(a.id) ? a.id : 0);
  const y = BigInt(/^\d+$/.test(b.id) ? b.id : 0);
  return x === y ? a.ts - b.ts : x < y ? -1 : 1;
}

/**
 * Lines already shown merged with new ones (a page read, a live event):
 * each id once, in id order, at most `keep` (the newest).
 */
export function mergeLogLines(
  shown: readonly LogLine[],
  incoming: readonly LogLine[],
  keep = 5_000,
): LogLine[] {
  if (incoming.length === 0) return shown as LogLine[];
  const seen = new Set(shown.map((l) => l.id));
  const added = incoming.filter((l) => !seen.has(l.id) && seen.add(l.id));
  if (added.length === 0) return shown as LogLine[];
  const last = shown.at(-1);
  const inOrder =
    !last || added.every((l, i) => order(i === 0 ? last : (added[i - 1] as LogLine), l) < 0);
  const merged = inOrder ? [...shown, ...added] : [...shown, ...added].sort(order);
  return merged.length > keep ? merged.slice(merged.length - keep) : merged;
}
