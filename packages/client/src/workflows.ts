import { apiViews } from '@drover/protocol';
import type { z } from 'zod/v4';
import {
  NoContent,
  type Workflow,
  type WorkflowRun,
  type WorkflowRunDetail,
  WorkflowRunsPage,
  type WorkflowRunsPageView,
  WorkflowsPage,
  type WorkflowsPageView,
} from './answers.js';
import { backoff, delay } from './delay.js';
import { DroverTimeoutError } from './errors.js';
import type { RequestOptions } from './http.js';
import type {
  ListJobsQuery,
  ListWorkflowRunsQuery,
  WorkflowRunInput,
  WorkflowSpecInput,
} from './inputs.js';
import { isPassing, queryString, seg } from './paths.js';

/** How DroverClient sends a request (answer validated with `schema`). */
type Send = <S extends z.ZodType>(
  schema: S,
  method: string,
  path: string,
  body?: unknown,
  options?: RequestOptions,
) => Promise<z.output<S>>;

const FINAL_RUN: readonly string[] = ['SUCCEEDED', 'FAILED', 'STOPPED'];

/** Whether a workflow run's status is one it keeps (until a retry in place). */
export function isFinalRun(run: Pick<WorkflowRun, 'status'>): boolean {
  return FINAL_RUN.includes(run.status);
}

/** The workflow routes of the API, as `drover.workflows` (each answer validated). */
export class WorkflowApi {
  constructor(
    private readonly send: Send,
    /** `/apps/<app>` */
    private readonly appPath: string,
  ) {}

  /** Creates a workflow; job and workflow nodes name a job or workflow of the app. */
  create(spec: WorkflowSpecInput): Promise<Workflow> {
    return this.send(apiViews.WorkflowView, 'POST', this.path('/workflows'), spec);
  }

  /** A page of workflows by id; pass its `next` as `after` for the next page. */
  list(query: ListJobsQuery = {}): Promise<WorkflowsPageView> {
    return this.send(WorkflowsPage, 'GET', this.path(`/workflows${queryString(query)}`));
  }

  /** A workflow with its next fire times. */
  get(id: string): Promise<Workflow> {
    return this.send(apiViews.WorkflowView, 'GET', this.path(`/workflows/${seg(id)}`));
  }

  /** Replaces a workflow's spec; runs under way keep the DAG they started with. */
  update(id: string, spec: WorkflowSpecInput): Promise<Workflow> {
    return this.send(apiViews.WorkflowView, 'PUT', this.path(`/workflows/${seg(id)}`), spec);
  }

  enable(id: string): Promise<Workflow> {
    return this.send(apiViews.WorkflowView, 'POST', this.path(`/workflows/${seg(id)}/enable`));
  }

  disable(id: string): Promise<Workflow> {
    return this.send(apiViews.WorkflowView, 'POST', this.path(`/workflows/${seg(id)}/disable`));
  }

  /** Deletes a workflow and its finished runs (refused while runs are unfinished or it is nested). */
  async delete(id: string): Promise<void> {
    await this.send(NoContent, 'DELETE', this.path(`/workflows/${seg(id)}`));
  }

  /** Runs a workflow now: the new run, or the earlier one of its idempotency key. */
  run(id: string, run: WorkflowRunInput = {}): Promise<WorkflowRun> {
    return this.send(apiViews.WorkflowRunView, 'POST', this.path(`/workflows/${seg(id)}/run`), run);
  }

  /** A page of runs, newest first; pass its `next` as `beforeId` for the next page. */
  listRuns(query: ListWorkflowRunsQuery = {}): Promise<WorkflowRunsPageView> {
    return this.send(WorkflowRunsPage, 'GET', this.path(`/workflow-runs${queryString(query)}`));
  }

  /** A run with each node's status, instance and result. */
  getRun(runId: string, options?: RequestOptions): Promise<WorkflowRunDetail> {
    return this.send(
      apiViews.WorkflowRunDetailView,
      'GET',
      this.path(`/workflow-runs/${seg(runId)}`),
      undefined,
      options,
    );
  }

  /** Stops a run: it ends STOPPED and its running nodes are stopped. */
  stopRun(runId: string): Promise<WorkflowRun> {
    return this.send(
      apiViews.WorkflowRunView,
      'POST',
      this.path(`/workflow-runs/${seg(runId)}/stop`),
    );
  }

  /** Retries a FAILED or STOPPED run in place: only its failed and stopped nodes run again. */
  retryRun(runId: string): Promise<WorkflowRun> {
    return this.send(
      apiViews.WorkflowRunView,
      'POST',
      this.path(`/workflow-runs/${seg(runId)}/retry`),
    );
  }

  /** Marks a FAILED node succeeded: the run goes on as if it had. */
  markNodeSucceeded(runId: string, nodeId: string): Promise<WorkflowRun> {
    return this.send(
      apiViews.WorkflowRunView,
      'POST',
      this.path(`/workflow-runs/${seg(runId)}/nodes/${seg(nodeId)}/mark-success`),
    );
  }

  /**
   * The run once it is final, with its nodes; `onProgress` sees each poll's
   * answer (node-by-node progress). Polls from 50 ms backing off to 1 s,
   * rides out a server away for a while; DroverTimeoutError after `timeoutMs`.
   */
  async waitForRun(
    runId: string,
    options: {
      timeoutMs: number;
      signal?: AbortSignal;
      onProgress?: (run: WorkflowRunDetail) => void;
    },
  ): Promise<WorkflowRunDetail> {
    const { timeoutMs, signal: caller, onProgress } = options;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    let lastStatus: string | null = null;
    let lastError: unknown;
    const timedOut = (): unknown =>
      caller?.aborted
        ? caller.reason
        : new DroverTimeoutError(runId, timeoutMs, lastStatus, {
            cause: lastError,
            what: 'workflow run',
          });
    const intervals = backoff();
    for (;;) {
      try {
        const run = await this.getRun(runId, { signal });
        onProgress?.(run);
        if (isFinalRun(run)) return run;
        lastStatus = run.status;
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

  private path(rest: string): string {
    return `${this.appPath}${rest}`;
  }
}
