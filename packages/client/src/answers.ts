import { apiViews } from '@drover/protocol';
import { z } from 'zod/v4';

// The answers of the API that are not a single view: pages and wrappers,
// built from the views the server itself answers with.

export const JobDetailView = apiViews.JobView.extend({ nextTriggers: z.array(z.number()) });
export const JobsPage = z.object({ jobs: z.array(apiViews.JobView), next: z.string().nullable() });
export const InstancesPage = z.object({
  instances: z.array(apiViews.InstanceView),
  next: z.string().nullable(),
});
export const LogsPage = z.object({
  lines: z.array(apiViews.LogLineView),
  next: z.string().nullable(),
});
export const PreviewAnswer = z.object({ times: z.array(z.number()) });
export const WorkersAnswer = z.object({ workers: z.array(apiViews.WorkerView) });
export const NoContent = z.null();
export const AppsAnswer = apiViews.AppListView;

export type Job = z.output<typeof apiViews.JobView>;
export type JobDetail = z.output<typeof JobDetailView>;
export type Instance = z.output<typeof apiViews.InstanceView>;
export type LogLine = z.output<typeof apiViews.LogLineView>;
export type Worker = z.output<typeof apiViews.WorkerView>;
export type AppSummary = z.output<typeof AppsAnswer>['apps'][number];
export type RunStats = z.output<typeof apiViews.RunStatsView>;
export type JobsPageView = z.output<typeof JobsPage>;
export type InstancesPageView = z.output<typeof InstancesPage>;

export const WorkflowsPage = z.object({
  workflows: z.array(apiViews.WorkflowView),
  next: z.string().nullable(),
});
export const WorkflowRunsPage = z.object({
  runs: z.array(apiViews.WorkflowRunView),
  next: z.string().nullable(),
});

export type Workflow = z.output<typeof apiViews.WorkflowView>;
export type WorkflowRun = z.output<typeof apiViews.WorkflowRunView>;
export type WorkflowRunDetail = z.output<typeof apiViews.WorkflowRunDetailView>;
export type WorkflowsPageView = z.output<typeof WorkflowsPage>;
export type WorkflowRunsPageView = z.output<typeof WorkflowRunsPage>;
