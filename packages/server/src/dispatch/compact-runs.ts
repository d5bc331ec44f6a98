import { ttMessages } from '@drover/protocol';
import type { z } from 'zod';
import type { RunJob } from './run-job-message.js';

type Compacted = Required<Pick<z.input<typeof ttMessages.RunJobs>, 'jobs' | 'compact'>>;

/**
 * A `run_jobs` batch in the compact form, for a worker whose heartbeat says
 * `compactRuns`: each job's fields once, each run only its own (a no-op run
 * takes ~60 bytes instead of ~265, and the worker decodes and checks less).
 * Runs share an entry only when built from the same job spec (the same
 * object: an edit between two loads makes two entries) and the same workers.
 * A standalone run's TaskTracker never reads `workers`: its entry has none.
 */
export function compactRuns(items: { spec: object; run: RunJob }[]): Compacted {
  const jobs: Compacted['jobs'] = [];
  const compact: Compacted['compact'] = [];
  const bySpec = new Map<object, Map<string, number>>();
  for (const { spec, run: r } of items) {
    const standalone = r.executeType === 'STANDALONE';
    const workersKey = standalone ? '' : r.workers.join('\u0000');
    let entries = bySpec.get(spec);
    if (!entries) {
      entries = new Map();
      bySpec.set(spec, entries);
    }
    let job = entries.get(workersKey);
    if (job === undefined) {
      job = jobs.length;
      entries.set(workersKey, job);
      jobs.push(ttMessages.sharedPartOf(r, standalone ? [] : r.workers));
    }
    compact.push(ttMessages.ownPartOf(r, job));
  }
  return { jobs, compact };
}
