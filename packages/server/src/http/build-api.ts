import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type ApiContext, isReady, unavailable } from './api-context.js';
import { clientErrorHandler, errorHandler, frameworkErrors, notFoundHandler } from './api-error.js';
import { isConsolePage, serveConsole } from './console-files.js';
import type { EventStreams } from './event-streams.js';
import { hostCheck, isLoopbackHost } from './host-check.js';
import { acceptJsonBodiesOnly, refuseBodiesWhereNoneIsTaken } from './json-body-parser.js';
import { NO_AUTH, openApiOptions } from './openapi-document.js';
import { appTokenRoutes } from './routes/app-tokens.js';
import { appRoutes } from './routes/apps.js';
import { eventRoutes } from './routes/events.js';
import { instanceRoutes } from './routes/instances.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { statsRoutes } from './routes/stats.js';
import { workerKeyRoutes } from './routes/worker-keys.js';
import { workerRoutes } from './routes/workers.js';
import { workflowRunRoutes } from './routes/workflow-runs.js';
import { workflowRoutes } from './routes/workflows.js';
import { closeUnusedConnectionsOnClose } from './unused-connections.js';

const Health = z.object({ ok: z.literal(true) });
const Readiness = z.object({
  ready: z.boolean(),
  nats: z.boolean(),
  database: z.boolean(),
  started: z.boolean(),
});

export interface ApiOptions {
  /** The address it listens on: on loopback, the Host header is checked. */
  listenHost: string;
  /** More Host names it answers to (a reverse proxy's), any port. */
  allowedHosts: readonly string[];
  /** The web console's built files, served under `/`. */
  consoleDir: string;
  /** The open `GET /apps/{app}/events` streams (ended when the API closes). */
  eventStreams: EventStreams;
}

/** The HTTP API: zod-validated routes under /api/v1, health probes, the OpenAPI document. */
export async function buildApi(
  ctx: ApiContext,
  log: Logger,
  options: ApiOptions,
): Promise<FastifyInstance> {
  // Per-request lines are noise at info; errors still come through.
  const httpLog: FastifyBaseLogger = log.child({ actor: 'http' }, { level: 'warn' });
  const api = Fastify({
    loggerInstance: httpLog,
    bodyLimit: 1024 * 1024,
    frameworkErrors,
    clientErrorHandler,
  });
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);
  api.setErrorHandler(errorHandler(log));
  if (isLoopbackHost(options.listenHost)) {
    const port = () => {
      const address = api.server.address();
      return typeof address === 'object' && address ? address.port : 0;
    };
    api.addHook('onRequest', hostCheck(options.allowedHosts, port));
  }
  acceptJsonBodiesOnly(api);
  refuseBodiesWhereNoneIsTaken(api);
  await api.register(swagger, openApiOptions());
  // After swagger: its onRoute hook must see the static routes to leave them out.
  const consolePage = await serveConsole(api, options.consoleDir);
  api.setNotFoundHandler((request, reply) =>
    isConsolePage(request) ? consolePage(request, reply) : notFoundHandler(request, reply),
  );

  api.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        summary: 'Liveness: answers while the process lives',
        security: NO_AUTH,
        response: { 200: Health },
      },
    },
    async () => ({ ok: true as const }),
  );
  api.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: 200 while NATS and Postgres are reachable and the server has started',
        security: NO_AUTH,
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const readiness = ctx.readiness();
      const ready = isReady(readiness);
      return reply.status(ready ? 200 : 503).send({ ready, ...readiness });
    },
  );
  api.get(
    '/api/v1/openapi.json',
    {
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI document',
        security: NO_AUTH,
      },
    },
    async () => api.swagger(),
  );
  await api.register(metricsRoutes(ctx));

  const v1: FastifyPluginAsync = async (scope) => {
    scope.addHook('onRequest', async () => {
      const readiness = ctx.readiness();
      if (!isReady(readiness)) throw unavailable(readiness);
    });
    const typed = scope.withTypeProvider<ZodTypeProvider>();
    await typed.register(appRoutes(ctx));
    await typed.register(appTokenRoutes(ctx));
    await typed.register(jobRoutes(ctx));
    await typed.register(instanceRoutes(ctx));
    await typed.register(statsRoutes(ctx));
    await typed.register(eventRoutes(ctx, options.eventStreams));
    await typed.register(workerRoutes(ctx));
    await typed.register(workerKeyRoutes(ctx));
    await typed.register(workflowRoutes(ctx));
    await typed.register(workflowRunRoutes(ctx));
  };
  await api.register(v1, { prefix: '/api/v1' });
  // An open event stream never ends by itself: closing would wait for it.
  api.addHook('preClose', async () => options.eventStreams.closeAll());
  closeUnusedConnectionsOnClose(api);
  return api;
}
