import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  getWorkflowRun,
  listWorkflowRuns,
  markNodeSucceeded,
  retryWorkflowRun,
  stopWorkflowRun,
} from '../../workflows/workflow-engine.js';
import { NodeId } from '../../workflows/workflow-spec.js';
import type { ApiContext } from '../api-context.js';
import { notFound } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import {
  ErrorView,
  Id,
  Limit,
  WorkflowRunDetailView,
  WorkflowRunStatus,
  WorkflowRunView,
} from '../views.js';

const RunParams = z.object({ app: AppName, runId: Id });

// Workflow runs: list, one with its nodes, and the operations on a run
// (stop, retry in place, mark a failed node succeeded), done by the engine.
export function workflowRunRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    const errors = { 400: ErrorView, 401: ErrorView, 404: ErrorView, 409: ErrorView };
    const tags = ['workflows'];

    api.get(
      '/apps/:app/workflow-runs',
      {
        schema: {
          tags,
          operationId: 'listWorkflowRuns',
          summary: 'List workflow runs, newest first, paged with `beforeId`',
          params: z.object({ app: AppName }),
          querystring: z.object({
            workflowId: Id.optional(),
            status: WorkflowRunStatus.optional(),
            beforeId: Id.optional(),
            limit: Limit,
          }),
          response: {
            200: z.object({ runs: z.array(WorkflowRunView), next: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const q = request.query;
        const runs = await listWorkflowRuns(ctx.core().pool, app.id, q);
        return { runs, next: runs.length === q.limit ? (runs.at(-1)?.id ?? null) : null };
      },
    );

    api.get(
      '/apps/:app/workflow-runs/:runId',
      {
        schema: {
          tags,
          operationId: 'getWorkflowRun',
          summary: 'A workflow run with each node’s status, instance and result',
          params: RunParams,
          response: { 200: WorkflowRunDetailView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const run = await getWorkflowRun(ctx.core().pool, app.id, request.params.runId);
        if (!run) throw notFound(`workflow run ${request.params.runId}`);
        return run;
      },
    );

    api.post(
      '/apps/:app/workflow-runs/:runId/stop',
      {
        schema: {
          tags,
          operationId: 'stopWorkflowRun',
          summary: 'Stop a workflow run: it ends STOPPED, its running nodes are stopped',
          params: RunParams,
          response: { 200: WorkflowRunView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const run = await stopWorkflowRun(ctx.core().pool, app.id, request.params.runId);
        if (!run) throw notFound(`workflow run ${request.params.runId}`);
        return run;
      },
    );

    api.post(
      '/apps/:app/workflow-runs/:runId/retry',
      {
        schema: {
          tags,
          operationId: 'retryWorkflowRun',
          summary:
            'Retry a FAILED or STOPPED run in place: only its failed and stopped nodes run again',
          params: RunParams,
          response: { 200: WorkflowRunView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const run = await retryWorkflowRun(ctx.core().pool, app.id, request.params.runId);
        if (!run) throw notFound(`workflow run ${request.params.runId}`);
        return run;
      },
    );

    api.post(
      '/apps/:app/workflow-runs/:runId/nodes/:nodeId/mark-success',
      {
        schema: {
          tags,
          operationId: 'markWorkflowNodeSucceeded',
          summary: 'Mark a FAILED node succeeded: the run goes on as if it had',
          params: RunParams.extend({ nodeId: NodeId }),
          response: { 200: WorkflowRunView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { runId, nodeId } = request.params;
        const run = await markNodeSucceeded(ctx.core().pool, app.id, runId, nodeId);
        if (!run) throw notFound(`workflow run ${runId}`);
        return run;
      },
    );
  };
}
