import type { RunStats } from '@drover/client';

/** The final statuses the chart draws, in this order and colour (contrast >= 3:1 on white). */
export const CHART_SERIES = [
  { status: 'SUCCEEDED', color: '#1a7f37' },
  { status: 'FAILED', color: '#cf222e' },
  { status: 'STOPPED', color: '#6e7781' },
  { status: 'CANCELED', color: '#9a6700' },
] as const;

export interface MinuteRow {
  /** Start of the minute, epoch ms. */
  minute: number;
  counts: Record<string, number>;
}

/**
 * The stats' buckets as one row per minute of the window (minutes with no
 * finished run included, as zeros), oldest first, ending at `now`'s minute.
 */
export function minuteRows(stats: Pick<RunStats, 'minutes' | 'buckets'>, now: number): MinuteRow[] {
  const last = Math.floor(now / 60_000) * 60_000;
  const first = last - (stats.minutes - 1) * 60_000;
  const rows = new Map<number, MinuteRow>();
  for (let minute = first; minute <= last; minute += 60_000)
    rows.set(minute, { minute, counts: {} });
  for (const bucket of stats.buckets) {
    const minute = Math.floor(bucket.minute / 60_000) * 60_000;
    const row = rows.get(minute);
    if (row) row.counts[bucket.status] = (row.counts[bucket.status] ?? 0) + bucket.count;
  }
  return [...rows.values()];
}
