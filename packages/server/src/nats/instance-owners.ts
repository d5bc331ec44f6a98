import { HandlerError, monotonicMs } from '@drover/protocol';
import type pg from 'pg';
import type { RunFacts } from '../dispatch/run-facts.js';

/** How long an id the database did not know is answered without asking again. */
export const UNKNOWN_INSTANCE_TTL_MS = 2_000;
/** Ids remembered, found and not found (each map; the older half goes when full). */
const REMEMBERED = 10_000;
/** Lookups of ids not remembered from a dispatch, at once: a flood of forged ids cannot take the pool. */
const LOOKUPS_AT_ONCE = 4;

/**
 * The app that owns an instance, so one app cannot report on another's runs.
 * Known from the dispatch (RunFacts) or looked up once and remembered (an
 * instance never changes app); an id the database does not know is remembered
 * for a short while. So a repeated report, forged or not, costs no query. Ids are a sequence (guessable), so a remembered miss answers a
 * retryable UNKNOWN_INSTANCE, never a verdict: a run created since is found
 * when the sender retries after the entry expires.
 */
export class InstanceOwners {
  private readonly found = new Map<string, string>();
  private readonly unknown = new Map<string, number>();
  private lookups = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly facts: RunFacts,
  ) {}

  async app(instanceId: string): Promise<string | undefined> {
    const known = this.facts.get(instanceId)?.app ?? this.found.get(instanceId);
    if (known) return known;
    const missedAt = this.unknown.get(instanceId);
    if (missedAt !== undefined && monotonicMs() - missedAt < UNKNOWN_INSTANCE_TTL_MS) {
      throw new HandlerError('UNKNOWN_INSTANCE', `instance ${instanceId} not found`, {
        retryable: true,
      });
    }
    if (this.lookups >= LOOKUPS_AT_ONCE) {
      throw new HandlerError('BUSY', 'too many instance lookups at once', { retryable: true });
    }
    this.lookups++;
    try {
      const { rows } = await this.pool.query<{ name: string }>(
        'SELECT a.name FROM instances i JOIN apps a ON a.id = i.app_id WHERE i.id = $1',
        [instanceId],
      );
      const app = rows[0]?.name;
      if (app) {
        this.unknown.delete(instanceId);
        remember(this.found, instanceId, app);
      } else remember(this.unknown, instanceId, monotonicMs());
      return app;
    } finally {
      this.lookups--;
    }
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= REMEMBERED) {
    // Oldest first (a Map keeps insertion order): drop the older half.
    let drop = REMEMBERED / 2;
    for (const k of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(k);
    }
  }
  map.delete(key);
  map.set(key, value);
}
