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
import { errorHandler } from './api-error.js';
import { appRoutes } from './routes/apps.js';
import { instanceRoutes } from './routes/instances.js';
import { jobRoutes } from './routes/jobs.js';
import { workerKeyRoutes } from './routes/worker-keys.js';
import { workerRoutes } from './routes/workers.js';

/** The HTTP API: zod-validated routes under /api/v1, health probes, the OpenAPI document. */
export async function buildApi(ctx: ApiContext, log: Logger): Promise<FastifyInstance> {
  // Per-request lines are noise at info; errors still come through.
  const httpLog: FastifyBaseLogger = log.child({ actor: 'http' }, { level: 'warn' });
  const api = Fastify({ loggerInstance: httpLog, bodyLimit: 1024 * 1024 });
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);
  api.setErrorHandler(errorHandler(log));
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

  const v1: FastifyPluginAsync = async (scope) => {
    scope.addHook('onRequest', async () => {
      const readiness = ctx.readiness();
      if (!isReady(readiness)) throw unavailable(readiness);
    });
    const typed = scope.withTypeProvider<ZodTypeProvider>();
    await typed.register(appRoutes(ctx));
    await typed.register(jobRoutes(ctx));
    await typed.register(instanceRoutes(ctx));
    await typed.register(workerRoutes(ctx));
    await typed.register(workerKeyRoutes(ctx));
  };
  await api.register(v1, { prefix: '/api/v1' });
  return api;
}
