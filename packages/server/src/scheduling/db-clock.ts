import { monotonicMs } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';

/**
 * The database's clock, read on this process's monotonic clock. Fire times,
 * due times and creation times are database times, so "is it due yet" is
 * judged in database time: a server whose own clock is off (or steps when
 * time sync corrects it) still fires on time. Each sync reads
 * `clock_timestamp()` and keeps its offset from the monotonic clock at the
 * midpoint of the round trip.
 */
export class DbClock {
  private offset: number | undefined;

  async sync(db: Queryable): Promise<void> {
    const sent = monotonicMs();
    const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    const received = monotonicMs();
    const dbNow = rows[0]?.now.getTime();
    if (dbNow !== undefined) this.offset = dbNow - (sent + received) / 2;
  }

  /** The database's time now, in epoch ms (this process's wall clock until the first sync). */
  now(): number {
    return this.offset === undefined ? Date.now() : monotonicMs() + this.offset;
  }
}
