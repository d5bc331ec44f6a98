import type { DroverEvent } from '@drover/protocol';
import { apiViews, FINAL_INSTANCE_STATUSES } from '@drover/protocol';
import type { z } from 'zod/v4';
import {
  type AppSummary,
  AppsAnswer,
  type Instance,
  InstancesPage,
  type InstancesPageView,
  type Job,
  type JobDetail,
  JobDetailView,
  JobsPage,
  type JobsPageView,
  type LogLine,
  LogsPage,
  NoContent,
  PreviewAnswer,
  type RunStats,
  type Worker,
  WorkersAnswer,
} from './answers.js';
import { backoff, delay } from './delay.js';
import { DroverTimeoutError } from './errors.js';
import { type EventsOptions, readEvents } from './events.js';
import { type FetchLike, type HttpSettings, type RequestOptions, sendRequest } from './http.js';
import type { JobSpecInput, ListInstancesQuery, ListJobsQuery, RunInput } from './inputs.js';
import { isPassing, queryString, seg } from './paths.js';
import { WorkflowApi } from './workflows.js';

export interface DroverClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7700` (without `/api/v1`). */
  url: string;
  /** The app whose jobs and instances this client reaches. */
  app: string;
  /** The app's secret, sent as a bearer token. */
  secret?: string;
  /** Another fetch (tests, proxies); default the global one. */
  fetch?: FetchLike;
  /** A request without an answer this long fails with DroverUnavailableError; default 30 s. */
  requestTimeoutMs?: number;
}

export interface WaitOptions {
  /** Give up (DroverTimeoutError) when the instance is not final this long after the call. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The bulk API takes at most this many runs per call; more are sent as several calls. */
export const MAX_RUNS_PER_CALL = 1_000;
const LOG_PAGE = 1_000;
const FINAL: readonly string[] = FINAL_INSTANCE_STATUSES;

/** Whether an instance's status is one it never leaves. */
export function isFinal(instance: Pick<Instance, 'status'>): boolean {
  return FINAL.includes(instance.status);
}

/** A typed client of a Drover server's HTTP API, for one app. Every answer is validated. */
export class DroverClient {
  readonly url: string;
  readonly app: string;
  private readonly http: HttpSettings;
  /** The workflow routes: create, run, runs, stop, retry, mark a node succeeded… */
  readonly workflows: WorkflowApi;

  constructor(options: DroverClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.app = options.app;
    this.http = {
      url: this.url,
      secret: options.secret,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    };
    this.workflows = new WorkflowApi(
      (schema, method, path, body, opts) => this.request(schema, method, path, body, opts),
      this.appPath(''),
    );
  }

  /**
   * Any call of the API, `path` under `/api/v1` (e.g. `/apps/a/jobs`), its
   * answer validated with `schema`. The other methods are built on it.
   */
  request<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<z.output<S>> {
    return sendRequest(this.http, schema, method, path, body, options);
  }

  createJob(spec: JobSpecInput): Promise<Job> {
    return this.request(apiViews.JobView, 'POST', this.appPath('/jobs'), spec);
  }

  /** A job with its next 5 fire times. */
  getJob(id: string): Promise<JobDetail> {
    return this.request(JobDetailView, 'GET', this.appPath(`/jobs/${seg(id)}`));
  }

  /** A page of jobs by id; pass its `next` as `after` for the next page (null: no more). */
  listJobs(query: ListJobsQuery = {}): Promise<JobsPageView> {
    return this.request(JobsPage, 'GET', this.appPath(`/jobs${queryString(query)}`));
  }

  /** Replaces a job's options (absent options take their defaults). */
  updateJob(id: string, spec: JobSpecInput): Promise<Job> {
    return this.request(apiViews.JobView, 'PUT', this.appPath(`/jobs/${seg(id)}`), spec);
  }

  enableJob(id: string): Promise<Job> {
    return this.request(apiViews.JobView, 'POST', this.appPath(`/jobs/${seg(id)}/enable`));
  }

  disableJob(id: string): Promise<Job> {
    return this.request(apiViews.JobView, 'POST', this.appPath(`/jobs/${seg(id)}/disable`));
  }

  /** Deletes a job and its history. */
  async deleteJob(id: string): Promise<void> {
    await this.request(NoContent, 'DELETE', this.appPath(`/jobs/${seg(id)}`));
  }

  /** The next 5 fire times (epoch ms) of a job spec, without saving it. */
  async previewJob(spec: JobSpecInput): Promise<number[]> {
    const { times } = await this.request(
      PreviewAnswer,
      'POST',
      this.appPath('/jobs/preview'),
      spec,
    );
    return times;
  }

  /** Runs a job now (or after `delayMs`): the new instance, or the earlier one of its idempotency key. */
  runJob(jobId: string, run: RunInput = {}): Promise<Instance> {
    return this.request(
      apiViews.InstanceView,
      'POST',
      this.appPath(`/jobs/${seg(jobId)}/run`),
      run,
    );
  }

  /**
   * Runs a job once per entry of `runs`, through the bulk API: the instances
   * in the order of `runs`. Beyond 1,000 runs, each 1,000 is one call, sent one
   * after another; a failing call rejects, and the runs of earlier calls stay
   * (give idempotency keys to repeat the whole safely).
   */
  async runMany(jobId: string, runs: readonly RunInput[]): Promise<Instance[]> {
    const instances: Instance[] = [];
    for (let i = 0; i < runs.length; i += MAX_RUNS_PER_CALL) {
      const answer = await this.request(
        apiViews.RunsView,
        'POST',
        this.appPath(`/jobs/${seg(jobId)}/runs`),
        { runs: runs.slice(i, i + MAX_RUNS_PER_CALL) },
      );
      instances.push(...answer.instances);
    }
    return instances;
  }

  getInstance(id: string, options?: RequestOptions): Promise<Instance> {
    return this.request(
      apiViews.InstanceView,
      'GET',
      this.appPath(`/instances/${seg(id)}`),
      undefined,
      options,
    );
  }

  /** A page of instances, newest first; pass its `next` as `before` for the next page. */
  listInstances(query: ListInstancesQuery = {}): Promise<InstancesPageView> {
    const { status, ...rest } = query;
    const statuses = status === undefined ? undefined : [status].flat().join(',');
    return this.request(
      InstancesPage,
      'GET',
      this.appPath(`/instances${queryString({ ...rest, status: statuses })}`),
    );
  }

  /** Stops an unfinished instance; it stays STOPPED. */
  stopInstance(id: string): Promise<Instance> {
    return this.request(apiViews.InstanceView, 'POST', this.appPath(`/instances/${seg(id)}/stop`));
  }

  /** Cancels an instance that has not started. */
  cancelInstance(id: string): Promise<Instance> {
    return this.request(
      apiViews.InstanceView,
      'POST',
      this.appPath(`/instances/${seg(id)}/cancel`),
    );
  }

  /** Runs a FAILED, STOPPED or CANCELED instance again: the new instance (the same one on a repeat). */
  retryInstance(id: string): Promise<Instance> {
    return this.request(apiViews.InstanceView, 'POST', this.appPath(`/instances/${seg(id)}/retry`));
  }

  /**
   * The instance once it is final (SUCCEEDED, FAILED, STOPPED or CANCELED),
   * with its result. Polls from 50 ms, backing off to 1 s; rides out a server
   * that cannot be reached for a while or answers 502, 503 or 504. Rejects
   * with DroverTimeoutError after `timeoutMs`, with the signal's reason once
   * it aborts.
   */
  async waitForInstance(id: string, options: WaitOptions): Promise<Instance> {
    const { timeoutMs, signal: caller } = options;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      throw new RangeError(
        `waitForInstance: timeoutMs must be a number of ms >= 0, got ${timeoutMs}`,
      );
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    let lastStatus: string | null = null;
    let lastError: unknown;
    const timedOut = (): unknown =>
      caller?.aborted
        ? caller.reason
        : new DroverTimeoutError(id, timeoutMs, lastStatus, { cause: lastError });
    const intervals = backoff();
    for (;;) {
      try {
        const instance = await this.getInstance(id, { signal });
        if (isFinal(instance)) return instance;
        lastStatus = instance.status;
      } catch (err) {
        if (signal.aborted) throw timedOut();
        if (!isPassing(err)) throw err;
        lastError = err;
      }
      try {
        await delay(intervals.next().value, signal);
      } catch {
        throw timedOut();
      }
    }
  }

  /**
   * The instance's online log lines in order, as they arrive; ends once the
   * instance is final and its logs are drained. Stops (rejects with the
   * signal's reason) when `signal` aborts.
   */
  async *followLogs(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<LogLine> {
    const { signal } = options;
    let after: string | undefined;
    let final = false;
    let intervals = backoff();
    for (;;) {
      const page = await this.request(
        LogsPage,
        'GET',
        this.appPath(`/instances/${seg(id)}/logs${queryString({ after, limit: LOG_PAGE })}`),
        undefined,
        { signal },
      );
      yield* page.lines;
      after = page.next ?? after;
      if (page.lines.length === LOG_PAGE) continue;
      // Final before this page was read, and the page was not full: nothing is left.
      if (final) return;
      if (page.lines.length) intervals = backoff();
      final = isFinal(await this.getInstance(id, { signal }));
      if (!final) await delay(intervals.next().value, signal);
    }
  }

  /**
   * Every app of the cluster, by name: needs the server's admin token as
   * `secret` (the client's own app plays no part).
   */
  async listApps(): Promise<AppSummary[]> {
    const { apps } = await this.request(AppsAnswer, 'GET', '/apps');
    return apps;
  }

  /**
   * Runs per minute by final status over the last `minutes` (1 to 1,440,
   * default 60), by the minute they finished; and the runs waiting and
   * running now.
   */
  getRunStats(minutes?: number): Promise<RunStats> {
    return this.request(
      apiViews.RunStatsView,
      'GET',
      this.appPath(`/stats/runs${queryString({ minutes })}`),
    );
  }

  /**
   * The app's lifecycle events (instance, progress, log, worker, workflow-run,
   * workflow-node) as they happen, validated, until `signal` aborts (the
   * iteration then rejects with its reason) or the server ends the stream.
   * `app` defaults to the client's (another needs the admin token).
   */
  events(app: string = this.app, options: EventsOptions = {}): AsyncGenerator<DroverEvent> {
    const path = `/apps/${seg(app)}/events${queryString({ instanceId: options.instanceId })}`;
    return readEvents(this.http.fetch, this.url, path, this.http.secret, options);
  }

  /** Workers the server has heard from, with their health. */
  async listWorkers(): Promise<Worker[]> {
    const { workers } = await this.request(WorkersAnswer, 'GET', this.appPath('/workers'));
    return workers;
  }

  private appPath(rest: string): string {
    return `/apps/${seg(this.app)}${rest}`;
  }
}
