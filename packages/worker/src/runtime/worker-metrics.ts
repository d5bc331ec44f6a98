import { type BusMetrics, type RouteStats, registerBusMetrics } from '@drover/transport';
import { Gauge, Registry } from 'prom-client';
import type { ProcessorExecutor } from '../isolation/executor.js';
import { LabelCounter } from './label-counter.js';

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
 * metrics-server.ts). Counters are plain additions on paths taken once per
 * run or task; gauges are read at scrape. Names and labels: docs/metrics.md.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly runsStarted: LabelCounter;
  private readonly runsFinished: LabelCounter;
  private readonly tasks: LabelCounter;
  private readonly bus: BusMetrics;

  constructor(sources: WorkerMetricSources) {
    const registers = [this.registry];
    this.runsStarted = new LabelCounter(
      'drover_worker_runs_started_total',
      'Runs whose TaskTracker started here, by execute type',
      'execute_type',
      registers,
    );
    this.runsFinished = new LabelCounter(
      'drover_worker_runs_finished_total',
      'Runs whose TaskTracker here reported a final status, by status',
      'status',
      registers,
    );
    this.tasks = new LabelCounter(
      'drover_worker_tasks_total',
      'Processor calls (a standalone run, a map or reduce task) that ended here, by outcome (succeeded, failed: the processor threw)',
      'outcome',
      registers,
      ['succeeded', 'failed'],
    );
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

  runStarted(executeType: string): void {
    this.runsStarted.cell(executeType).n++;
  }

  runFinished(status: string): void {
    this.runsFinished.cell(status).n++;
  }

  watch: BusMetrics['watch'] = (nc) => this.bus.watch(nc);

  /** `executor`, counting each processor call's outcome. */
  counting(executor: ProcessorExecutor): ProcessorExecutor {
    const succeeded = this.tasks.cell('succeeded');
    const failed = this.tasks.cell('failed');
    return {
      process(processor, run, task, hooks, abort, startAt) {
        return executor.process(processor, run, task, hooks, abort, startAt).then(
          (outcome) => {
            succeeded.n++;
            return outcome;
          },
          (err: unknown) => {
            failed.n++;
            throw err;
          },
        );
      },
      close: () => executor.close(),
    };
  }
}
