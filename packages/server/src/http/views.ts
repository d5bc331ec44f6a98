import { apiViews } from '@drover/protocol';
import type { z } from 'zod';
import type { JobRow } from '../store/jobs.js';

// The shapes live in @drover/protocol so clients validate answers without the server.
export const {
  ErrorView,
  AppView,
  AppListView,
  NewWorkerKeyView,
  WorkerKeyView,
  CreatedAppView,
  JobView,
  InstanceView,
  RunsView,
  RunStatsView,
  LogLineView,
  WorkerView,
  WorkflowView,
  WorkflowRunView,
  WorkflowRunDetailView,
  WorkflowRunStatus,
  JsonValue,
  Id,
  Limit,
} = apiViews;

export function jobView(job: JobRow): z.input<typeof JobView> {
  return {
    id: job.id,
    enabled: job.enabled,
    nextTriggerAt: job.nextTriggerAt,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    spec: job.spec as unknown as Record<string, unknown>,
  };
}
