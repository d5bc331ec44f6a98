import { z } from 'zod/v4';

// The states of a workflow run and of its nodes, shared by the HTTP views and
// the monitoring events so the two cannot drift apart.

export const WorkflowRunStatus = z.enum(['WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED']);

export const WorkflowNodeStatus = z.enum([
  'PENDING',
  'RUNNING',
  'WAITING',
  'SUCCEEDED',
  'FAILED',
  'STOPPED',
  'SKIPPED',
  'DISABLED',
]);
