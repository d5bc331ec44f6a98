import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { previewTriggers } from '../../jobs/time-expression.js';
import { refineStorableText } from '../../store/storable-text.js';
import {
  deleteWorkflow,
  getWorkflow,
  insertWorkflow,
  listWorkflows,
  replaceWorkflow,
  setWorkflowEnabled,
  WorkflowInUseError,
  WorkflowNameTakenError,
  type WorkflowRow,
  workflowSchedule,
} from '../../workflows/store/workflows.js';
import { WorkflowSpecError } from '../../workflows/validate-workflow.js';
import { startWorkflowRun } from '../../workflows/workflow-engine.js';
import { MAX_CONTEXT_BYTES, WorkflowSpecInput } from '../../workflows/workflow-spec.js';
import type { ApiContext } from '../api-context.js';
import { ApiError, notFound } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, Id, JsonValue, Limit, WorkflowRunView, WorkflowView } from '../views.js';

const AppParams = z.object({ app: AppName });
const WorkflowParams = z.object({ app: AppName, workflowId: Id });
const RunBody = z
  .strictObject({
    initParams: JsonValue.optional(),
    /** A second run with the same key answers the first run. */
    idempotencyKey: z.string().min(1).max(128).optional(),
  })
  .superRefine(refineStorableText);
const NEXT_FIRE_TIMES = 5;

/** `["nodes", 2, "job"]` as the API's issue path `body.nodes[2].job`. */
function bodyPath(path: (string | number)[]): string {
  return path.reduce<string>(
    (at, part) => (typeof part === 'number' ? `${at}[${part}]` : `${at}.${part}`),
    'body',
  );
}

/** Store errors in the API's words: a spec refused (400), a name taken or a workflow in use (409). */
async function answering<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof WorkflowSpecError) {
      const path = bodyPath(err.path);
      throw new ApiError(400, 'INVALID_INPUT', `${path}: ${err.message}`, [
        { path, message: err.message },
      ]);
    }
    if (err instanceof WorkflowNameTakenError)
      throw new ApiError(409, 'CONFLICT', err.message, [
        { path: 'body.name', message: err.message },
      ]);
    if (err instanceof WorkflowInUseError) throw new ApiError(409, 'CONFLICT', err.message);
    throw err;
  }
}

export function workflowView(
  app: string,
  w: WorkflowRow,
  nextFireTimes?: number[],
): z.input<typeof WorkflowView> {
  return {
    id: w.id,
    app,
    name: w.name,
    enabled: w.enabled,
    spec: w.spec as unknown as Record<string, unknown>,
    ...(nextFireTimes ? { nextFireTimes } : {}),
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

export function workflowRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    const errors = { 400: ErrorView, 401: ErrorView, 404: ErrorView, 409: ErrorView };
    const tags = ['workflows'];

    api.post(
      '/apps/:app/workflows',
      {
        schema: {
          tags,
          operationId: 'createWorkflow',
          summary: 'Create a workflow (a DAG of job, decision, nested-workflow and wait nodes)',
          description:
            'Job and workflow nodes name a job or workflow of the app (by name or id); the saved ' +
            'spec carries the resolved `jobId`/`workflowId`. A graph that cannot run is a 400 naming the node.',
          params: AppParams,
          body: WorkflowSpecInput,
          response: { 201: WorkflowView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, scheduler } = ctx.core();
        const workflow = await answering(insertWorkflow(pool, app, request.body));
        scheduler.poke();
        return reply.status(201).send(workflowView(app.name, workflow));
      },
    );

    api.get(
      '/apps/:app/workflows',
      {
        schema: {
          tags,
          operationId: 'listWorkflows',
          summary: 'List workflows by id, paged with `after`',
          params: AppParams,
          querystring: z.object({ after: Id.optional(), limit: Limit }),
          response: {
            200: z.object({ workflows: z.array(WorkflowView), next: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { after, limit } = request.query;
        const rows = await listWorkflows(ctx.core().pool, app.id, { afterId: after, limit });
        return {
          workflows: rows.map((w) => workflowView(app.name, w)),
          next: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
        };
      },
    );

    api.get(
      '/apps/:app/workflows/:workflowId',
      {
        schema: {
          tags,
          operationId: 'getWorkflow',
          summary: `A workflow with its next ${NEXT_FIRE_TIMES} fire times`,
          params: WorkflowParams,
          response: { 200: WorkflowView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, clock } = ctx.core();
        const w = await getWorkflow(pool, app.id, request.params.workflowId);
        if (!w) throw notFound(`workflow ${request.params.workflowId}`);
        const times =
          w.enabled && w.spec.schedule.type === 'CRON'
            ? previewTriggers(workflowSchedule(w.spec), clock.now(), NEXT_FIRE_TIMES)
            : [];
        return workflowView(app.name, w, times);
      },
    );

    api.put(
      '/apps/:app/workflows/:workflowId',
      {
        schema: {
          tags,
          operationId: 'updateWorkflow',
          summary: 'Replace a workflow’s spec (runs under way keep the DAG they started with)',
          params: WorkflowParams,
          body: WorkflowSpecInput,
          response: { 200: WorkflowView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, scheduler } = ctx.core();
        const w = await answering(
          replaceWorkflow(pool, app, request.params.workflowId, request.body),
        );
        if (!w) throw notFound(`workflow ${request.params.workflowId}`);
        scheduler.poke();
        return workflowView(app.name, w);
      },
    );

    for (const enabled of [true, false]) {
      api.post(
        `/apps/:app/workflows/:workflowId/${enabled ? 'enable' : 'disable'}`,
        {
          schema: {
            tags,
            operationId: enabled ? 'enableWorkflow' : 'disableWorkflow',
            summary: enabled
              ? 'Enable a workflow'
              : 'Disable a workflow (it no longer fires on its schedule; runs under way go on)',
            params: WorkflowParams,
            response: { 200: WorkflowView, ...errors },
          },
        },
        async (request) => {
          const app = await authenticateApp(ctx, request, request.params.app);
          const { pool, scheduler } = ctx.core();
          const w = await setWorkflowEnabled(pool, app.id, request.params.workflowId, enabled);
          if (!w) throw notFound(`workflow ${request.params.workflowId}`);
          scheduler.poke();
          return workflowView(app.name, w);
        },
      );
    }

    api.delete(
      '/apps/:app/workflows/:workflowId',
      {
        schema: {
          tags,
          operationId: 'deleteWorkflow',
          summary: 'Delete a workflow and its finished runs',
          description: '409 while it has unfinished runs, or while another workflow nests it.',
          params: WorkflowParams,
          response: { 204: z.undefined().describe('Deleted'), ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const deleted = await answering(
          deleteWorkflow(ctx.core().pool, app.id, request.params.workflowId),
        );
        if (!deleted) throw notFound(`workflow ${request.params.workflowId}`);
        return reply.status(204).send();
      },
    );

    api.post(
      '/apps/:app/workflows/:workflowId/run',
      {
        schema: {
          tags,
          operationId: 'runWorkflow',
          summary: 'Run a workflow now, with init params (its starting context when an object)',
          description:
            '202 with the new run; 200 with the earlier run when its idempotency key was used before.',
          params: WorkflowParams,
          body: RunBody,
          response: { 200: WorkflowRunView, 202: WorkflowRunView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool } = ctx.core();
        const workflow = await getWorkflow(pool, app.id, request.params.workflowId);
        if (!workflow) throw notFound(`workflow ${request.params.workflowId}`);
        const bytes = Buffer.byteLength(JSON.stringify(request.body.initParams ?? null));
        if (bytes > MAX_CONTEXT_BYTES) {
          const message = `${bytes} bytes of JSON; a workflow's context may hold at most ${MAX_CONTEXT_BYTES}`;
          throw new ApiError(400, 'INVALID_INPUT', `body.initParams: ${message}`, [
            { path: 'body.initParams', message },
          ]);
        }
        const { run, created } = await startWorkflowRun(pool, {
          app,
          workflow,
          initParams: request.body.initParams,
          triggerType: 'API',
          idempotencyKey: request.body.idempotencyKey,
        });
        return reply.status(created ? 202 : 200).send(run);
      },
    );
  };
}
