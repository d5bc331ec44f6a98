/**
 * Counts per (label, job) between two scrapes: a run costs two Map lookups
 * and an increment, no labels object; a scrape turns the sums into counter
 * increments. At most one entry per job and label is held.
 */
export class JobTally {
  private readonly byLabel = new Map<string, Map<string, number>>();

  add(label: string, jobId: string, n = 1): void {
    let jobs = this.byLabel.get(label);
    if (!jobs) {
      jobs = new Map();
      this.byLabel.set(label, jobs);
    }
    jobs.set(jobId, (jobs.get(jobId) ?? 0) + n);
  }

  /** Hands every sum over and forgets it. */
  drain(into: (label: string, jobId: string, n: number) => void): void {
    for (const [label, jobs] of this.byLabel) {
      for (const [jobId, n] of jobs) into(label, jobId, n);
      jobs.clear();
    }
  }
}
