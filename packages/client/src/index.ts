export type { DroverEvent } from '@drover/protocol';
export type {
  AppSummary,
  Instance,
  InstancesPageView,
  Job,
  JobDetail,
  JobsPageView,
  LogLine,
  RunStats,
  Worker,
  Workflow,
  WorkflowRun,
  WorkflowRunDetail,
  WorkflowRunsPageView,
  WorkflowsPageView,
} from './answers.js';
export type { DroverClientOptions, WaitOptions } from './client.js';
export { DroverClient, isFinal, MAX_RUNS_PER_CALL } from './client.js';
export type { ApiIssue } from './errors.js';
export { DroverApiError, DroverTimeoutError, DroverUnavailableError } from './errors.js';
export type { EventsOptions } from './events.js';
export type { FetchLike, RequestOptions } from './http.js';
export type {
  JobSpecInput,
  Json,
  ListInstancesQuery,
  ListJobsQuery,
  ListWorkflowRunsQuery,
  RetryPolicyInput,
  RunInput,
  WorkflowNodeInput,
  WorkflowRunInput,
  WorkflowSpecInput,
} from './inputs.js';
export { type SseMessage, SseParser } from './sse-parser.js';
export { isFinalRun, WorkflowApi } from './workflows.js';
