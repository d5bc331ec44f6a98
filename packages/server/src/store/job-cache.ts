import type { Queryable } from '../db/pool.js';
import { paramsBytes } from '../jobs/params-size.js';
import { getJob, type JobRow } from './jobs.js';

/** A job's weight besides its jobParams (spec, ids, times), in bytes: an estimate. */
const JOB_BYTES = 2_048;
/**
 * Kept at most, by jobParams' encoded size plus JOB_BYTES a job (a job's
 * jobParams may take 512 KiB): past it, the oldest go until a sixteenth is free.
 */
const MAX_BYTES = 32 * 1024 * 1024;

/**
 * The jobs this server last read, so that adding a run needs no read of its
 * job first (a round trip, about a tenth of an API run's pickup). A copy is
 * never trusted alone: each run added from it carries the job's version, the
 * INSERT adds it only while the job is still at that version, and the caller
 * reads the job again (`fresh`) when it was not (`JobChangedError`).
 */
export class JobCache {
  private readonly jobs = new Map<string, { job: JobRow; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly db: Queryable,
    private readonly maxBytes = MAX_BYTES,
  ) {}

  /** The job as last read (read now when `fresh` or never read); null when there is none. */
  async get(appId: string, jobId: string, fresh = false): Promise<JobRow | null> {
    const key = `${appId}/${jobId}`;
    const kept = fresh ? undefined : this.jobs.get(key);
    if (kept) return kept.job;
    const job = await getJob(this.db, appId, jobId);
    this.forget(key);
    if (!job) return null;
    const bytes = JOB_BYTES + paramsBytes(job.spec.jobParams);
    this.jobs.set(key, { job, bytes });
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) this.evict();
    return job;
  }

  /** Bytes kept (an estimate; tests). */
  get size(): number {
    return this.bytes;
  }

  private forget(key: string): void {
    const kept = this.jobs.get(key);
    if (!kept) return;
    this.jobs.delete(key);
    this.bytes -= kept.bytes;
  }

  private evict(): void {
    const target = this.maxBytes - this.maxBytes / 16;
    for (const key of this.jobs.keys()) {
      if (this.bytes <= target) break;
      this.forget(key);
    }
  }
}
