import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type JobSpec, JobSpecInput } from '../../jobs/job-spec.js';
import { MAX_PARAMS_BYTES, paramsBytes, paramsTooLarge } from '../../jobs/params-size.js';
import { isFrequent, previewTriggers } from '../../jobs/time-expression.js';
import type { RunRequest } from '../../lifecycle/run-intake.js';
import { type Inserted, JobChangedError } from '../../store/instance-inserter.js';
import { stopInstance } from '../../store/instance-transitions.js';
import { listInstances } from '../../store/instances.js';
import {
  deleteJob,
  getJob,
  insertJob,
  JobInUseError,
  JobNameTakenError,
  JobNeverFiresError,
  type JobRow,
  jobInUse,
  listJobs,
  replaceJob,
  scheduleOf,
  setJobEnabled,
} from '../../store/jobs.js';
import { refineStorableText } from '../../store/storable-text.js';
import type { ApiContext } from '../api-context.js';
import { ApiError, notFound } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import {
  ErrorView,
  Id,
  InstanceView,
  JobView,
  JsonValue,
  jobView,
  Limit,
  RunsView,
} from '../views.js';

const AppParams = z.object({ app: AppName });
const JobParams = z.object({ app: AppName, jobId: Id });
const Preview = z.object({ times: z.array(z.number()) });
const RunBody = z
  .strictObject({
    params: JsonValue.optional(),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(365 * 24 * 3_600_000)
      .default(0),
    /** A second run with the same key returns the first run's instance. */
    idempotencyKey: z.string().min(1).max(128).optional(),
  })
  .superRefine(refineStorableText);
const MAX_RUNS_PER_CALL = 1_000;
const RunsBody = z.strictObject({
  runs: z.array(RunBody).min(1).max(MAX_RUNS_PER_CALL),
});

async function withConflict<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof JobInUseError) throw new ApiError(409, 'CONFLICT', err.message);
    if (err instanceof JobNeverFiresError) {
      const path = `body.${err.field}`;
      throw new ApiError(400, 'INVALID_INPUT', `${path}: ${err.message}`, [
        { path, message: err.message },
      ]);
    }
    if (err instanceof JobNameTakenError) {
      throw new ApiError(409, 'CONFLICT', err.message, [
        { path: 'body.name', message: err.message },
      ]);
    }
    throw err;
  }
}

export function jobRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    const errors = { 400: ErrorView, 401: ErrorView, 404: ErrorView, 409: ErrorView };

    api.post(
      '/apps/:app/jobs',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'createJob',
          summary: 'Create a job',
          params: AppParams,
          body: JobSpecInput,
          response: { 201: JobView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const job = await withConflict(insertJob(ctx.core().pool, app.id, request.body));
        ctx.core().scheduler.poke();
        return reply.status(201).send(jobView(job));
      },
    );

    api.post(
      '/apps/:app/jobs/preview',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'previewJob',
          summary: 'Next 5 fire times of a job spec, without saving it',
          params: AppParams,
          body: JobSpecInput,
          response: { 200: Preview, ...errors },
        },
      },
      async (request) => {
        await authenticateApp(ctx, request, request.params.app);
        const now = ctx.core().clock.now();
        return { times: previewTriggers(scheduleOf(request.body, now), now, 5) };
      },
    );

    api.get(
      '/apps/:app/jobs',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'listJobs',
          summary: 'List jobs by id, paged with `after`',
          params: AppParams,
          querystring: z.object({ after: Id.optional(), limit: Limit }),
          response: {
            200: z.object({ jobs: z.array(JobView), next: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const jobs = await listJobs(ctx.core().pool, app.id, {
          afterId: request.query.after,
          limit: request.query.limit,
        });
        return {
          jobs: jobs.map(jobView),
          next: jobs.length === request.query.limit ? (jobs.at(-1)?.id ?? null) : null,
        };
      },
    );

    api.get(
      '/apps/:app/jobs/:jobId',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'getJob',
          summary: 'A job with its next 5 fire times',
          params: JobParams,
          response: { 200: JobView.extend({ nextTriggers: z.array(z.number()) }), ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const job = await getJob(ctx.core().pool, app.id, request.params.jobId);
        if (!job) throw notFound(`job ${request.params.jobId}`);
        const nextTriggers = job.enabled
          ? previewTriggers(scheduleOf(job.spec, job.anchorAt), ctx.core().clock.now(), 5)
          : [];
        return { ...jobView(job), nextTriggers };
      },
    );

    api.put(
      '/apps/:app/jobs/:jobId',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'updateJob',
          summary: 'Replace a job’s options',
          params: JobParams,
          body: JobSpecInput,
          response: { 200: JobView, ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const job = await withConflict(
          replaceJob(ctx.core().pool, app.id, request.params.jobId, request.body),
        );
        if (!job) throw notFound(`job ${request.params.jobId}`);
        ctx.core().scheduler.poke();
        return jobView(job);
      },
    );

    for (const enabled of [true, false]) {
      api.post(
        `/apps/:app/jobs/:jobId/${enabled ? 'enable' : 'disable'}`,
        {
          schema: {
            tags: ['jobs'],
            operationId: enabled ? 'enableJob' : 'disableJob',
            summary: enabled ? 'Enable a job' : 'Disable a job (stops its frequent run)',
            params: JobParams,
            response: { 200: JobView, ...errors },
          },
        },
        async (request) => {
          const app = await authenticateApp(ctx, request, request.params.app);
          const { pool, scheduler } = ctx.core();
          const job = await setJobEnabled(pool, app.id, request.params.jobId, enabled);
          if (!job) throw notFound(`job ${request.params.jobId}`);
          if (!enabled && isFrequent(job.spec.timeExpressionType))
            await stopFrequentRuns(ctx, app.id, job.id);
          scheduler.poke();
          return jobView(job);
        },
      );
    }

    api.delete(
      '/apps/:app/jobs/:jobId',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'deleteJob',
          summary: 'Delete a job and its history',
          description:
            '409 while a workflow has a node running it, or an unfinished workflow run does.',
          params: JobParams,
          response: { 204: z.undefined().describe('Deleted'), ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool } = ctx.core();
        // Asked first so a refused delete stops nothing; asked again under the lock.
        const inUse = await jobInUse(pool, app.id, request.params.jobId);
        if (inUse) throw new ApiError(409, 'CONFLICT', inUse);
        await stopFrequentRuns(ctx, app.id, request.params.jobId);
        if (!(await withConflict(deleteJob(pool, app.id, request.params.jobId))))
          throw notFound(`job ${request.params.jobId}`);
        return reply.status(204).send();
      },
    );

    api.post(
      '/apps/:app/jobs/:jobId/run',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'runJob',
          summary: 'Run a job now or after a delay, with instance params',
          params: JobParams,
          body: RunBody,
          response: { 200: InstanceView, 202: InstanceView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const [run] = await addRuns(ctx, app, request.params.jobId, [request.body], (job) =>
          checkParamsSize(job.spec, request.body.params, 'body.params'),
        );
        if (!run) throw new Error('no instance for the run');
        return reply.status(run.created ? 202 : 200).send(run.instance);
      },
    );

    api.post(
      '/apps/:app/jobs/:jobId/runs',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'runMany',
          summary: `Run a job up to ${MAX_RUNS_PER_CALL} times in one call (all checked before any is created)`,
          description:
            'Each run as the body of `/run`. Answers their instances in the same order; a run whose ' +
            'idempotency key was used before (or earlier in the same call) gets that run’s instance.',
          params: JobParams,
          body: RunsBody,
          response: { 201: RunsView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const runs = await addRuns(ctx, app, request.params.jobId, request.body.runs, (job) => {
          request.body.runs.forEach((run, i) => {
            checkParamsSize(job.spec, run.params, `body.runs[${i}].params`);
          });
        });
        return reply.status(201).send({ instances: runs.map((r) => r.instance) });
      },
    );
  };
}

// Reads of the job per call at most: the kept copy, then once more for each
// edit that lands between a read and the insert.
const JOB_READS = 3;

/**
 * Adds runs of a job as built from the job this server keeps, each added only
 * while the job is still at that version; read again and checked again
 * (`check`) when it was edited meanwhile, on this server or another.
 */
async function addRuns(
  ctx: ApiContext,
  app: { id: string; name: string },
  jobId: string,
  bodies: z.output<typeof RunBody>[],
  check: (job: JobRow) => void,
): Promise<Inserted[]> {
  const { jobs, intake } = ctx.core();
  for (let read = 1; ; read++) {
    const job = await jobs.get(app.id, jobId, read > 1);
    if (!job) throw notFound(`job ${jobId}`);
    check(job);
    try {
      return await intake.create(bodies.map((b) => runRequest(app, job, b)));
    } catch (err) {
      if (!(err instanceof JobChangedError)) throw err;
      if (read >= JOB_READS)
        throw new ApiError(409, 'CONFLICT', `job ${jobId} is being edited; add the runs again`);
    }
  }
}

function runRequest(
  app: { id: string; name: string },
  job: { id: string; spec: JobSpec; version: string },
  body: z.output<typeof RunBody>,
): RunRequest {
  return {
    app: app.name,
    spec: job.spec,
    appId: app.id,
    jobId: job.id,
    jobVersion: job.version,
    triggerType: 'API',
    params: body.params,
    delayMs: body.delayMs,
    idempotencyKey: body.idempotencyKey,
  };
}

/** The job's params and a run's together must fit in one dispatch message. */
function checkParamsSize(spec: JobSpec, params: unknown, path: string): void {
  const jobBytes = paramsBytes(spec.jobParams);
  const bytes = jobBytes + paramsBytes(params);
  if (bytes <= MAX_PARAMS_BYTES) return;
  const message = paramsTooLarge(
    `with the job's ${jobBytes} bytes of jobParams, these params take`,
    bytes,
  );
  throw new ApiError(400, 'INVALID_INPUT', `${path}: ${message}`, [{ path, message }]);
}

/** Disabling or deleting a frequent job ends its long-lived run. */
async function stopFrequentRuns(ctx: ApiContext, appId: string, jobId: string): Promise<void> {
  const { pool, dispatcher, events } = ctx.core();
  const running = await listInstances(pool, {
    appId,
    jobId,
    statuses: ['WAITING_DISPATCH', 'WAITING_WORKER', 'WAITING_WORKER_RECEIVE', 'RUNNING'],
    limit: 100,
  });
  for (const instance of running.filter(
    (i) => i.triggerType === 'FIXED_RATE' || i.triggerType === 'FIXED_DELAY',
  )) {
    const stopped = await stopInstance(pool, instance.id, appId, 'job disabled');
    if (stopped) events.changed(stopped);
    if (stopped?.workerId) {
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM apps WHERE id = $1', [
        appId,
      ]);
      await dispatcher.stopTracker(
        rows[0]?.name ?? '',
        stopped.workerId,
        stopped.id,
        stopped.epoch,
        'job disabled',
      );
    }
  }
}
