import type { Queryable } from '../db/pool.js';
import { getJob, type JobRow } from './jobs.js';

/** Jobs kept; past it the oldest sixteenth goes at once (one Map walk, not one per job). */
const MAX_JOBS = 10_000;

/**
 * The jobs this server last read, so that adding a run needs no read of its
 * job first (a round trip, about a tenth of an API run's pickup). A copy is
 * never trusted alone: each run added from it carries the job's version, the
 * INSERT adds it only while the job is still at that version, and the caller
 * reads the job again (`fresh`) when it was not (`JobChangedError`).
 */
export class JobCache {
  private readonly jobs = new Map<string, JobRow>();

  constructor(
    private readonly db: Queryable,
    private readonly max = MAX_JOBS,
  ) {}

  /** The job as last read (read now when `fresh` or never read); null when there is none. */
  async get(appId: string, jobId: string, fresh = false): Promise<JobRow | null> {
    const key = `${appId}/${jobId}`;
    const kept = fresh ? undefined : this.jobs.get(key);
    if (kept) return kept;
    const job = await getJob(this.db, appId, jobId);
    this.jobs.delete(key);
    if (!job) return null;
    this.jobs.set(key, job);
    if (this.jobs.size > this.max) this.evict();
    return job;
  }

  private evict(): void {
    let n = Math.max(1, Math.floor(this.max / 16));
    for (const key of this.jobs.keys()) {
      if (n-- <= 0) break;
      this.jobs.delete(key);
    }
  }
}
