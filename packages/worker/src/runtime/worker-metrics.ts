import { type BusMetrics, type RouteStats, registerBusMetrics } from '@drover/transport';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ProcessorExecutor } from '../isolation/executor.js';

/** What the gauges read at scrape time. */
export interface WorkerMetricSources {
  queuedRuns(): number;
  slotsBusy(): number;
  slotsTotal: number;
  taskTrackers(): number;
  processorTrackers(): number;
  routeStats(): RouteStats;
}

/**
 * A worker's Prometheus metrics, served on `--metrics-port` (see
 * metrics-server.ts). Counters are plain increments on paths taken once per
 * run or task; gauges are read at scrape. Names and labels: docs/metrics.md.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly runsStarted: Counter<'execute_type'>;
  private readonly runsFinished: Counter<'status'>;
  private readonly tasks: Counter<'outcome'>;
  private readonly bus: BusMetrics;

  constructor(sources: WorkerMetricSources) {
    const registers = [this.registry];
    this.runsStarted = new Counter({
      name: 'drover_worker_runs_started_total',
      help: 'Runs whose TaskTracker started here, by execute type',
      labelNames: ['execute_type'],
      registers,
    });
    this.runsFinished = new Counter({
      name: 'drover_worker_runs_finished_total',
      help: 'Runs whose TaskTracker here reported a final status, by status',
      labelNames: ['status'],
      registers,
    });
    this.tasks = new Counter({
      name: 'drover_worker_tasks_total',
      help: 'Processor calls (a standalone run, a map or reduce task) that ended here, by outcome (succeeded, failed: the processor threw)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['succeeded', 'failed']) this.tasks.inc({ outcome }, 0);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('drover_worker_runs_queued', 'Standalone runs accepted and waiting for a slot', () =>
      sources.queuedRuns(),
    );
    gauge(
      'drover_worker_slots_busy',
      'Slots in use: standalone runs (queued ones too) and running tasks',
      () => sources.slotsBusy(),
    );
    gauge('drover_worker_slots', 'Slots of this worker (--concurrency)', () => sources.slotsTotal);
    gauge('drover_worker_task_trackers', 'TaskTrackers (runs owned) here', () =>
      sources.taskTrackers(),
    );
    gauge('drover_worker_processor_trackers', 'ProcessorTrackers (runs taking part) here', () =>
      sources.processorTrackers(),
    );
    this.bus = registerBusMetrics(this.registry, () => sources.routeStats());
  }

  // Label children made once: `inc({label})` hashes the labels on every call.
  private readonly started = new Map<string, { inc(): void }>();
  private readonly finished = new Map<string, { inc(): void }>();

  runStarted(executeType: string): void {
    let child = this.started.get(executeType);
    if (!child) {
      child = this.runsStarted.labels(executeType);
      this.started.set(executeType, child);
    }
    child.inc();
  }

  runFinished(status: string): void {
    let child = this.finished.get(status);
    if (!child) {
      child = this.runsFinished.labels(status);
      this.finished.set(status, child);
    }
    child.inc();
  }

  watch: BusMetrics['watch'] = (nc) => this.bus.watch(nc);

  /** `executor`, counting each processor call's outcome. */
  counting(executor: ProcessorExecutor): ProcessorExecutor {
    const succeeded = this.tasks.labels('succeeded');
    const failed = this.tasks.labels('failed');
    return {
      process(processor, run, task, hooks, abort) {
        return executor.process(processor, run, task, hooks, abort).then(
          (outcome) => {
            succeeded.inc();
            return outcome;
          },
          (err: unknown) => {
            failed.inc();
            throw err;
          },
        );
      },
      close: () => executor.close(),
    };
  }
}
