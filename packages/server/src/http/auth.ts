import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type AppRow, AuthBusyError } from '../store/apps.js';
import type { ApiContext } from './api-context.js';
import { ApiError } from './api-error.js';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header?.match(/^Bearer\s+(.+)$/i);
  return match?.[1];
}

const unauthorized = () =>
  new ApiError(401, 'UNAUTHORIZED', 'send the app secret as "Authorization: Bearer <secret>"');

/** Resolves the app named in the path from its secret; 401 otherwise (same answer for unknown apps). */
export async function authenticateApp(
  ctx: ApiContext,
  request: FastifyRequest,
  app: string,
): Promise<AppRow> {
  const secret = bearer(request);
  if (!secret) throw unauthorized();
  const row = await ctx
    .core()
    .auth.authenticate(app, secret)
    .catch((err: unknown) => {
      if (!(err instanceof AuthBusyError)) throw err;
      throw new ApiError(429, 'TOO_MANY_REQUESTS', err.message, undefined, {
        'retry-after': String(err.retryAfterS),
      });
    });
  if (!row) throw unauthorized();
  return row;
}

/**
 * Creating apps needs the admin token; a server started without one creates
 * none (secure by default: no open app creation).
 */
export function requireAdmin(ctx: ApiContext, request: FastifyRequest): void {
  if (!ctx.adminToken) {
    throw new ApiError(
      403,
      'FORBIDDEN',
      'this server creates no apps: it was started without an admin token (set DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE)',
    );
  }
  const given = Buffer.from(bearer(request) ?? '');
  const expected = Buffer.from(ctx.adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApiError(
      401,
      'UNAUTHORIZED',
      'creating apps needs "Authorization: Bearer <admin token>" (the server\'s DROVER_ADMIN_TOKEN)',
    );
  }
}
