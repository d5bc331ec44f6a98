import type pg from 'pg';
import type { JobSpec } from '../jobs/job-spec.js';
import type { WorkerRegistry } from './worker-registry.js';
import { selectWorkers } from './worker-selection.js';

const MAX_SPECS = 10_000;

/**
 * The workers a running map or map-reduce may use now: its job's filters
 * (processor, designated workers, tags, CPU, memory) over the live workers,
 * best first, so its TaskTracker takes in workers that joined after dispatch.
 * Job specs are remembered per run (a miss costs one query).
 */
export class RunWorkers {
  private readonly specs = new Map<string, JobSpec>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly registry: WorkerRegistry,
  ) {}

  async eligible(instanceId: string, app: string): Promise<string[]> {
    let spec = this.specs.get(instanceId);
    if (!spec) {
      const { rows } = await this.pool.query<{ spec: JobSpec }>(
        'SELECT j.spec FROM instances i JOIN jobs j ON j.id = i.job_id WHERE i.id = $1',
        [instanceId],
      );
      if (!rows[0]) return [];
      spec = rows[0].spec;
      if (this.specs.size >= MAX_SPECS) this.specs.clear();
      this.specs.set(instanceId, spec);
    }
    // Uncapped: the TaskTracker keeps its live workers and fills up to maxWorkerCount.
    const selection = selectWorkers(this.registry.alive(app), { ...spec, maxWorkerCount: 0 });
    return selection.ordered.map((w) => w.workerId);
  }
}
