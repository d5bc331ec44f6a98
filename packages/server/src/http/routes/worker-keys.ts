import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { ApiError } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, NewWorkerKeyView, WorkerKeyView } from '../views.js';

const PublicKey = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public key (U…)');

/**
 * An app's NATS worker credentials, managed with the app's API token.
 * Rotation without downtime: add a key, restart workers with it, revoke the old one.
 */
export function workerKeyRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.post(
      '/apps/:app/worker-keys',
      {
        schema: {
          tags: ['worker-keys'],
          operationId: 'createWorkerKey',
          summary: 'Create a worker key; its seed is in this answer only',
          params: z.object({ app: AppName }),
          response: { 201: NewWorkerKeyView, 401: ErrorView },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        return reply.status(201).send(await ctx.core().workerKeys.add(app.id));
      },
    );

    api.get(
      '/apps/:app/worker-keys',
      {
        schema: {
          tags: ['worker-keys'],
          operationId: 'listWorkerKeys',
          summary: "The app's worker keys (public keys only), revoked ones included",
          params: z.object({ app: AppName }),
          response: { 200: z.array(WorkerKeyView), 401: ErrorView },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        return ctx.core().workerKeys.list(app.id);
      },
    );

    api.delete(
      '/apps/:app/worker-keys/:publicKey',
      {
        schema: {
          tags: ['worker-keys'],
          operationId: 'revokeWorkerKey',
          summary: 'Revoke a worker key: NATS drops its connections once this answers',
          params: z.object({ app: AppName, publicKey: PublicKey }),
          response: { 200: WorkerKeyView, 401: ErrorView, 404: ErrorView },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const revoked = await ctx.core().workerKeys.revoke(app.id, request.params.publicKey);
        if (!revoked) {
          throw new ApiError(
            404,
            'NOT_FOUND',
            `app "${app.name}" has no worker key ${request.params.publicKey}`,
          );
        }
        return revoked;
      },
    );
  };
}
