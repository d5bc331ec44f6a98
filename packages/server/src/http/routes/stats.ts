import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runStats } from '../../store/run-stats.js';
import type { ApiContext } from '../api-context.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, RunStatsView } from '../views.js';

export function statsRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.get(
      '/apps/:app/stats/runs',
      {
        schema: {
          tags: ['instances'],
          operationId: 'getRunStats',
          summary:
            'Runs per minute by final status over the last `minutes` (by the minute they finished), and the runs waiting and running now',
          params: z.object({ app: AppName }),
          querystring: z.object({
            minutes: z.coerce.number().int().min(1).max(1_440).default(60),
          }),
          response: { 200: RunStatsView, 400: ErrorView, 401: ErrorView },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        return runStats(ctx.core().pool, app.id, request.query.minutes);
      },
    );
  };
}
