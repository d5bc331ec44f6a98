import { AppName, enumValues, InstanceStatus } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cancelInstance, stopInstance } from '../../store/instance-transitions.js';
import { getInstance, listInstances } from '../../store/instances.js';
import { getJob } from '../../store/jobs.js';
import { readLogs } from '../../store/logs.js';
import type { ApiContext } from '../api-context.js';
import { ApiError, notFound } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, Id, InstanceView, Limit, LogLineView } from '../views.js';

const InstanceParams = z.object({ app: AppName, instanceId: Id });
const StatusList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(enumValues(InstanceStatus))));

/** A time as ms since the epoch, in a query string. */
const EpochMs = z.coerce.number().int().min(0).max(8_640_000_000_000_000);

export function instanceRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    const errors = { 400: ErrorView, 401: ErrorView, 404: ErrorView, 409: ErrorView };

    api.get(
      '/apps/:app/instances',
      {
        schema: {
          tags: ['instances'],
          operationId: 'listInstances',
          summary:
            'List instances, newest first, paged with `before`; `createdAfter` (inclusive) and `createdBefore` (exclusive) in ms since the epoch',
          params: z.object({ app: AppName }),
          querystring: z.object({
            jobId: Id.optional(),
            status: StatusList.optional(),
            before: Id.optional(),
            workerId: z.string().min(1).max(200).optional(),
            createdAfter: EpochMs.optional(),
            createdBefore: EpochMs.optional(),
            limit: Limit,
          }),
          response: {
            200: z.object({ instances: z.array(InstanceView), next: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const q = request.query;
        const instances = await listInstances(ctx.core().pool, {
          appId: app.id,
          jobId: q.jobId,
          statuses: q.status,
          beforeId: q.before,
          workerId: q.workerId,
          createdAfter: q.createdAfter,
          createdBefore: q.createdBefore,
          limit: q.limit,
        });
        return {
          instances,
          next: instances.length === q.limit ? (instances.at(-1)?.id ?? null) : null,
        };
      },
    );

    api.get(
      '/apps/:app/instances/:instanceId',
      {
        schema: {
          tags: ['instances'],
          operationId: 'getInstance',
          summary: 'One instance',
          params: InstanceParams,
          response: { 200: InstanceView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const instance = await getInstance(ctx.core().pool, request.params.instanceId, app.id);
        if (!instance) throw notFound(`instance ${request.params.instanceId}`);
        return instance;
      },
    );

    api.post(
      '/apps/:app/instances/:instanceId/stop',
      {
        schema: {
          tags: ['instances'],
          operationId: 'stopInstance',
          summary: 'Stop an unfinished instance; it stays STOPPED',
          params: InstanceParams,
          response: { 200: InstanceView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, dispatcher, events } = ctx.core();
        const stopped = await stopInstance(
          pool,
          request.params.instanceId,
          app.id,
          'stopped by user',
        );
        if (!stopped) throw await finalOrMissing(ctx, request.params.instanceId, app.id, 'stop');
        // Monitors see it, and a queued run of the job may take its slot.
        events.changed(stopped);
        if (stopped.workerId)
          await dispatcher.stopTracker(
            app.name,
            stopped.workerId,
            stopped.id,
            // The worker's fence stops only the TaskTracker of the run's current epoch.
            stopped.epoch,
            'stopped by user',
          );
        return stopped;
      },
    );

    api.post(
      '/apps/:app/instances/:instanceId/cancel',
      {
        schema: {
          tags: ['instances'],
          operationId: 'cancelInstance',
          summary: 'Cancel an instance that has not started',
          params: InstanceParams,
          response: { 200: InstanceView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const canceled = await cancelInstance(
          ctx.core().pool,
          request.params.instanceId,
          app.id,
          'canceled by user',
        );
        if (!canceled) throw await finalOrMissing(ctx, request.params.instanceId, app.id, 'cancel');
        ctx.core().events.changed(canceled);
        return canceled;
      },
    );

    api.post(
      '/apps/:app/instances/:instanceId/retry',
      {
        schema: {
          tags: ['instances'],
          operationId: 'retryInstance',
          summary: 'Run a finished instance again, as a new instance',
          params: InstanceParams,
          response: { 202: InstanceView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, timers, intake } = ctx.core();
        const previous = await getInstance(pool, request.params.instanceId, app.id);
        if (!previous) throw notFound(`instance ${request.params.instanceId}`);
        if (!['FAILED', 'STOPPED', 'CANCELED'].includes(previous.status)) {
          throw new ApiError(
            409,
            'CONFLICT',
            `only a FAILED, STOPPED or CANCELED instance can be retried; this one is ${previous.status}`,
          );
        }
        const job = await getJob(pool, app.id, previous.jobId);
        if (!job) throw notFound(`job ${previous.jobId}`);
        const [run] = await intake.create([
          {
            app: app.name,
            spec: job.spec,
            appId: app.id,
            jobId: previous.jobId,
            triggerType: 'RETRY',
            params: previous.params,
            retryOf: previous.id,
            // Retrying twice returns the same new instance.
            idempotencyKey: `retry-of-${previous.id}`,
          },
        ]);
        if (!run) throw new Error('no instance for the retry');
        const { instance } = run;
        // A repeat nudges the run it returns, in case it still waits (as before).
        if (!run.created) timers.arm(instance.id, 0);
        return reply.status(202).send(instance);
      },
    );

    api.get(
      '/apps/:app/instances/:instanceId/logs',
      {
        schema: {
          tags: ['instances'],
          operationId: 'getInstanceLogs',
          summary: 'Online log lines in order, paged with `after` (the last id seen)',
          params: InstanceParams,
          querystring: z.object({ after: Id.optional(), limit: Limit }),
          response: {
            200: z.object({ lines: z.array(LogLineView), next: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool } = ctx.core();
        if (!(await getInstance(pool, request.params.instanceId, app.id)))
          throw notFound(`instance ${request.params.instanceId}`);
        const lines = await readLogs(
          pool,
          request.params.instanceId,
          request.query.after,
          request.query.limit,
        );
        return { lines, next: lines.at(-1)?.id ?? request.query.after ?? null };
      },
    );
  };
}

async function finalOrMissing(
  ctx: ApiContext,
  id: string,
  appId: string,
  action: string,
): Promise<ApiError> {
  const instance = await getInstance(ctx.core().pool, id, appId);
  if (!instance) return notFound(`instance ${id}`);
  return new ApiError(409, 'CONFLICT', `cannot ${action} an instance that is ${instance.status}`);
}
