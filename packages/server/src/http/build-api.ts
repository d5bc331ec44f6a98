import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { type ApiContext, isReady, unavailable } from './api-context.js';
import { ApiError, errorHandler } from './api-error.js';
import { hostCheck, isLoopbackHost } from './host-check.js';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-depth.js';
import { appTokenRoutes } from './routes/app-tokens.js';
import { appRoutes } from './routes/apps.js';
import { instanceRoutes } from './routes/instances.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { workerKeyRoutes } from './routes/worker-keys.js';
import { workerRoutes } from './routes/workers.js';

export interface ApiOptions {
  /** The address it listens on: on loopback, the Host header is checked. */
  listenHost: string;
  /** More Host names it answers to (a reverse proxy's), any port. */
  allowedHosts: readonly string[];
}

/** The HTTP API: zod-validated routes under /api/v1, health probes, the OpenAPI document. */
export async function buildApi(
  ctx: ApiContext,
  log: Logger,
  options: ApiOptions,
): Promise<FastifyInstance> {
  // Per-request lines are noise at info; errors still come through.
  const httpLog: FastifyBaseLogger = log.child({ actor: 'http' }, { level: 'warn' });
  const api = Fastify({ loggerInstance: httpLog, bodyLimit: 1024 * 1024 });
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
  // Too deep a body is refused before parsing: later recursion would overflow the stack.
  const parseJson = api.getDefaultJsonParser('error', 'error');
  api.removeContentTypeParser('application/json');
  api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      const problem = `JSON nests deeper than ${MAX_JSON_DEPTH} levels`;
      done(
        new ApiError(400, 'INVALID_INPUT', `body: ${problem}`, [
          { path: 'body', message: problem },
        ]),
        undefined,
      );
      return;
    }
    void parseJson(request, body as string, done);
  });
  await api.register(swagger, {
    openapi: {
      info: { title: 'Drover server API', version: '1' },
      components: { securitySchemes: { appSecret: { type: 'http', scheme: 'bearer' } } },
      security: [{ appSecret: [] }],
    },
    transform: jsonSchemaTransform,
  });

  api.get('/healthz', async () => ({ ok: true }));
  api.get('/readyz', async (_request, reply) => {
    const readiness = ctx.readiness();
    const ready = isReady(readiness);
    return reply.status(ready ? 200 : 503).send({ ready, ...readiness });
  });
  api.get('/api/v1/openapi.json', async () => api.swagger());
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
    await typed.register(workerRoutes(ctx));
    await typed.register(workerKeyRoutes(ctx));
  };
  await api.register(v1, { prefix: '/api/v1' });
  return api;
}
