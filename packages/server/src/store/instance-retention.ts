import { monotonicMs } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';

// Rows per DELETE: big enough that a sweep keeps up with thousands of runs a
// second, small enough that one statement stays well under a second.
const PRUNE_BATCH = 5_000;

/**
 * Deletes finished instances past retention (their logs go with them, ON
 * DELETE CASCADE), oldest first, in batches until none is left or `budgetMs`
 * is spent (the rest waits for the next call). Returns how many it deleted.
 */
export async function pruneFinished(
  db: Queryable,
  retentionMs: number,
  budgetMs: number,
): Promise<number> {
  const started = monotonicMs();
  let pruned = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM instances WHERE id IN (
         SELECT id FROM instances WHERE finished_at < now() - make_interval(secs => $1 / 1000.0)
         ORDER BY finished_at LIMIT ${PRUNE_BATCH})`,
      [retentionMs],
    );
    pruned += rowCount ?? 0;
    if ((rowCount ?? 0) < PRUNE_BATCH || monotonicMs() - started >= budgetMs) return pruned;
  }
}
