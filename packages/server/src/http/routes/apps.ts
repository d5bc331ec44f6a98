import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createApp, listApps } from '../../store/apps.js';
import type { ApiContext } from '../api-context.js';
import { ApiError } from '../api-error.js';
import { authenticateApp, requireAdmin } from '../auth.js';
import { ADMIN_AUTH } from '../openapi-document.js';
import { AppListView, AppView, CreatedAppView, ErrorView } from '../views.js';

export function appRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.post(
      '/apps',
      {
        // Before the body is even validated: nothing about app creation is told to a caller without the token.
        onRequest: async (request) => requireAdmin(ctx, request, 'creating apps'),
        schema: {
          tags: ['apps'],
          operationId: 'createApp',
          security: ADMIN_AUTH,
          summary:
            'Create an app (needs the admin token); its workers and API callers authenticate with its secret',
          body: z.strictObject({
            name: AppName,
            secret: z
              .string()
              .min(12, 'must be at least 12 characters')
              .max(256)
              .refine(
                (s) => !s.startsWith('drv_'),
                'must not start with "drv_" (generated tokens do)',
              ),
          }),
          response: {
            201: CreatedAppView,
            400: ErrorView,
            401: ErrorView,
            403: ErrorView,
            409: ErrorView,
          },
        },
      },
      async (request, reply) => {
        const app = await createApp(ctx.core().pool, request.body.name, request.body.secret);
        if (!app)
          throw new ApiError(409, 'CONFLICT', `an app named "${request.body.name}" already exists`);
        // Its workers' NATS credential, usable once this answers (see docs/security.md).
        const workerKey = await ctx.core().workerKeys.add(app.id);
        return reply.status(201).send({ ...app, workerKey });
      },
    );

    api.get(
      '/apps',
      {
        onRequest: async (request) => requireAdmin(ctx, request, 'listing apps'),
        schema: {
          tags: ['apps'],
          operationId: 'listApps',
          security: ADMIN_AUTH,
          summary: 'Every app on this cluster, by name (needs the admin token)',
          response: { 200: AppListView, 401: ErrorView, 403: ErrorView },
        },
      },
      async () => ({ apps: await listApps(ctx.core().pool) }),
    );

    api.get(
      '/apps/:app',
      {
        schema: {
          tags: ['apps'],
          operationId: 'getApp',
          summary: 'The app the secret belongs to (or any app, with the admin token)',
          params: z.object({ app: AppName }),
          response: { 200: AppView, 401: ErrorView },
        },
      },
      async (request) => authenticateApp(ctx, request, request.params.app),
    );
  };
}
