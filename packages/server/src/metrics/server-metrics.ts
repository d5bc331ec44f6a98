import { FINAL_INSTANCE_STATUSES } from '@drover/protocol';
import { type BusMetrics, type RouteStats, registerBusMetrics } from '@drover/transport';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Instance } from '../store/instance-row.js';
import { JobTally } from './job-tally.js';

/** What the gauges read at scrape time (absent until the server has started). */
export interface ServerMetricSources {
  /** Runs waiting to be dispatched and due now, by status. */
  waitingRuns(): Promise<{ status: string; count: number }[]>;
  workersAlive(): number;
  routeStats(): RouteStats | undefined;
  /** Open `GET /apps/{app}/events` streams, each one a NATS subscription. */
  eventStreams(): number;
}

// Seconds: a dispatch round trip is milliseconds; a run waiting for a worker may wait minutes.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The server's Prometheus metrics (`GET /metrics`). Runs are counted where
 * they pass in batches (intake, scheduler, accepts, final reports) into a
 * per-job tally, turned into labelled counters at scrape, so the hot path
 * pays a Map increment per run. Names and labels: docs/metrics.md.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly created = new JobTally();
  private readonly dispatched = new JobTally();
  private readonly finished = new JobTally();
  private readonly tasks = new JobTally();
  private readonly dispatchLatency: Histogram;
  private readonly pickupLatency: Histogram;
  private readonly bus: BusMetrics;

  constructor(sources: () => ServerMetricSources | undefined) {
    const registers = [this.registry];
    const tallied = (name: string, help: string, tally: JobTally, label?: string) =>
      new Counter({
        name,
        help,
        labelNames: label ? ['job', label] : ['job'],
        registers,
        collect() {
          tally.drain((value, job, n) => this.inc(label ? { job, [label]: value } : { job }, n));
        },
      });
    tallied(
      'drover_runs_created_total',
      'Runs created (API, schedule, retry), by job id',
      this.created,
    );
    tallied(
      'drover_runs_dispatched_total',
      'Runs a TaskTracker accepted, by job id (a run handed back and sent again counts again)',
      this.dispatched,
    );
    tallied(
      'drover_runs_finished_total',
      'Runs that reached a final status, by job id and status',
      this.finished,
      'status',
    );
    tallied(
      'drover_tasks_finished_total',
      'Tasks of finished runs (a map run: each map task; a standalone run: each firing), counted when the run finishes, by job id and outcome',
      this.tasks,
      'outcome',
    );
    this.dispatchLatency = new Histogram({
      name: 'drover_dispatch_latency_seconds',
      help: 'From a run bound to a worker (claimed) to its TaskTracker accepting it',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.pickupLatency = new Histogram({
      name: 'drover_pickup_latency_seconds',
      help: 'From a run being due (its trigger time, or created plus delay) to its TaskTracker accepting it',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'drover_runs_waiting',
      help: 'Runs past their due time and not yet dispatched, by status (WAITING_DISPATCH, WAITING_WORKER)',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        // Postgres away (or not started): no value rather than a wrong one.
        const waiting = await sources()
          ?.waitingRuns()
          .catch(() => undefined);
        if (!waiting) return;
        for (const status of ['WAITING_DISPATCH', 'WAITING_WORKER']) this.set({ status }, 0);
        for (const { status, count } of waiting) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'drover_workers_alive',
      help: 'Workers (of every app) whose heartbeat this server holds',
      registers,
      collect() {
        this.set(sources()?.workersAlive() ?? 0);
      },
    });
    new Gauge({
      name: 'drover_event_streams',
      help: 'Open Server-Sent Event streams (GET /api/v1/apps/{app}/events), each holding one NATS subscription',
      registers,
      collect() {
        this.set(sources()?.eventStreams() ?? 0);
      },
    });
    this.bus = registerBusMetrics(this.registry, () => sources()?.routeStats());
  }

  /** Runs just written (one INSERT's worth). */
  runsCreated(jobIds: Iterable<string>): void {
    for (const jobId of jobIds) this.created.add('', jobId);
  }

  /** A run's change of status, as the lifecycle reports it. */
  changed(instance: Instance): void {
    if (instance.status === 'RUNNING') {
      this.dispatched.add('', instance.jobId);
      const started = instance.startedAt;
      if (started === null) return;
      if (instance.dispatchedAt !== null)
        this.dispatchLatency.observe(Math.max(0, started - instance.dispatchedAt) / 1000);
      this.pickupLatency.observe(Math.max(0, started - instance.dueAt) / 1000);
    } else if (FINAL_INSTANCE_STATUSES.includes(instance.status)) {
      this.finished.add(instance.status, instance.jobId);
      const progress = instance.progress;
      if (!progress || progress.total === 0) return;
      if (progress.succeeded) this.tasks.add('succeeded', instance.jobId, progress.succeeded);
      if (progress.failed) this.tasks.add('failed', instance.jobId, progress.failed);
    }
  }

  watch: BusMetrics['watch'] = (nc) => this.bus.watch(nc);

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
