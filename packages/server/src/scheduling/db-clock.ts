import { randomBytes } from 'node:crypto';
import { monotonicMs } from '@drover/protocol';
import type { Queryable } from '../db/pool.js';

/** Samples kept: at one sync per scan (0.5 s), the last ~10 s. */
const SAMPLES = 20;
// Clock drift and timer jitter allowed between two readings before a step is assumed.
const STEP_SLACK_MS = 5;

interface Sample {
  /** Database time minus the monotonic clock at the round trip's midpoint. */
  offset: number;
  /** The round trip: the offset is right within half of it. */
  rttMs: number;
}

/**
 * The database's clock, read on this process's monotonic clock. Fire times,
 * due times and creation times are database times, so "is it due yet" is
 * judged in database time: a server whose own clock is off (or steps when
 * time sync corrects it) still fires on time. Each sync reads
 * `clock_timestamp()`; the offset kept is that of the recent sync with the
 * shortest round trip (as NTP does): under load one round trip may take
 * hundreds of ms, unevenly split, and taking its midpoint would put every
 * fire time that far off. It reads the earliest the database's clock can
 * be (that reading's offset less half its round trip), never later: a
 * timed run sent ahead to a worker then starts at its time, late by at most
 * that round trip (~0.2 ms idle), never before it. (This assumes the two
 * clocks drift apart by less than half a round trip over the ~10 s a
 * reading is kept: true on one host, and for NTP-disciplined hosts.)
 */
export class DbClock {
  private readonly samples: Sample[] = [];
  private offset: number | undefined;
  private readonly incarnation = randomBytes(6).toString('hex');
  private steps = 0;

  /**
   * Names this estimate of the database clock: it changes when the clock is
   * seen to step, so a worker timing messages against it starts afresh.
   */
  get id(): string {
    // Before the first sync `now()` is this host's wall clock: another scale.
    return `${this.incarnation}.${this.offset === undefined ? 'wall' : this.steps}`;
  }

  async sync(db: Queryable): Promise<void> {
    const sent = monotonicMs();
    // Epoch ms as a float: a timestamp read as a JS Date loses its µs (up to 1 ms).
    const { rows } = await db.query<{ now: number }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now',
    );
    const received = monotonicMs();
    const dbNow = rows[0]?.now;
    if (dbNow !== undefined)
      this.add({ offset: dbNow - (sent + received) / 2, rttMs: received - sent });
  }

  /** Records one reading (exposed for tests that feed round trips of their own). */
  add(sample: Sample): void {
    // Each reading puts the offset within ±rtt/2 of its own. A reading that
    // cannot agree with the best one means the database clock stepped: the
    // older readings are of the old clock.
    const best = this.best();
    if (
      best &&
      Math.abs(sample.offset - best.offset) > (sample.rttMs + best.rttMs) / 2 + STEP_SLACK_MS
    ) {
      this.samples.length = 0;
      this.steps++;
    }
    this.samples.push(sample);
    if (this.samples.length > SAMPLES) this.samples.shift();
    const kept = this.best();
    this.offset = kept && kept.offset - kept.rttMs / 2;
  }

  private best(): Sample | undefined {
    let best: Sample | undefined;
    for (const s of this.samples) if (!best || s.rttMs < best.rttMs) best = s;
    return best;
  }

  /** The database's time now, in epoch ms (this process's wall clock until the first sync). */
  now(): number {
    return this.offset === undefined ? Date.now() : monotonicMs() + this.offset;
  }
}
