import { AppName } from '@drover/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { addAppToken, listAppTokens, revokeAppToken } from '../../store/app-tokens.js';
import type { ApiContext } from '../api-context.js';
import { ApiError, notFound } from '../api-error.js';
import { authenticateApp } from '../auth.js';
import { ErrorView, Id } from '../views.js';

// API token rotation: any live token of an app manages the app's tokens.

const TokenView = z.object({ id: z.string(), createdAt: z.number() });
const NewTokenView = TokenView.extend({
  token: z.string().describe('shown once; only its hash is kept'),
});
const AppParams = z.object({ app: AppName });
const errors = { 401: ErrorView, 404: ErrorView, 409: ErrorView, 429: ErrorView };

export function appTokenRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.post(
      '/apps/:app/tokens',
      {
        schema: {
          tags: ['apps'],
          operationId: 'createAppToken',
          summary:
            'Add an API token (the others stay valid): rotate by adding, switching, revoking',
          params: AppParams,
          response: { 201: NewTokenView, ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        return reply.status(201).send(await addAppToken(ctx.core().pool, app.id));
      },
    );

    api.get(
      '/apps/:app/tokens',
      {
        schema: {
          tags: ['apps'],
          operationId: 'listAppTokens',
          summary: "The app's live API tokens: ids and creation times, never the tokens",
          params: AppParams,
          response: { 200: z.object({ tokens: z.array(TokenView) }), ...errors },
        },
      },
      async (request) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        return { tokens: await listAppTokens(ctx.core().pool, app.id) };
      },
    );

    api.delete(
      '/apps/:app/tokens/:tokenId',
      {
        schema: {
          tags: ['apps'],
          operationId: 'revokeAppToken',
          summary: 'Revoke an API token (not the last one)',
          params: z.object({ app: AppName, tokenId: Id }),
          response: { 204: z.undefined().describe('Deleted'), ...errors },
        },
      },
      async (request, reply) => {
        const app = await authenticateApp(ctx, request, request.params.app);
        const { pool, auth } = ctx.core();
        const result = await revokeAppToken(pool, app.id, request.params.tokenId);
        if (result === 'not_found') throw notFound(`token ${request.params.tokenId}`);
        if (result === 'last')
          throw new ApiError(
            409,
            'CONFLICT',
            `token ${request.params.tokenId} is the app's last: add another before revoking it`,
          );
        auth.forgetApp(app.name);
        return reply.status(204).send();
      },
    );
  };
}
