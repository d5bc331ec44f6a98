const WIDTH = 24;

/** `[#########---------------]  37%` for done out of total (an empty bar before there is a total). */
export function progressBar(done: number, total: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(share * WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
}

/** Seconds since `startedAt`, to a tenth: `12.3s`. */
export function elapsed(startedAt: number, now = Date.now()): string {
  return `${((now - startedAt) / 1_000).toFixed(1)}s`;
}
