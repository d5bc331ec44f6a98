import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, WorkerView } from '../views.js';

export function workerRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.get(
      '/apps/:app/workers',
      {
        schema: {
          tags: ['workers'],
          operationId: 'listWorkers',
          summary: 'Workers this server has heard from, with their health',
          params: z.object({ app: AppName }),
          response: { 200: z.object({ workers: z.array(WorkerView) }), 401: ErrorView },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { registry } = ctx.core();
        return {
          workers: registry.all(app.name).map((w) => ({
            workerId: w.workerId,
            alive: registry.isAlive(w),
            version: w.version,
            tags: w.tags,
            processors: w.processors,
            lastSeenAt: w.lastSeenAt,
            metrics: w.metrics,
          })),
        };
      },
    );
  };
}
