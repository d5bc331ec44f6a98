import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type AppRow, AuthBusyError, findApp } from '../store/apps.js';
import type { ApiContext } from './api-context.js';
import { ApiError } from './api-error.js';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header?.match(/^Bearer\s+(.+)$/i);
  return match?.[1];
}

const HOW = 'send the app secret (or the admin token) as "Authorization: Bearer <secret>"';

// One answer for a wrong secret and an unknown app: a caller learns no app names.
const unauthorized = (app: string, sent: boolean) =>
  new ApiError(
    401,
    'UNAUTHORIZED',
    sent ? `the secret sent is not app "${app}"'s (or there is no such app); ${HOW}` : HOW,
  );

/** Whether the bearer token is the server's admin token (constant-time: no prefix is told). */
function isAdminToken(ctx: ApiContext, given: string | undefined): boolean {
  if (!ctx.adminToken || given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(ctx.adminToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Resolves the app named in the path from its secret, or from the admin
 * token (an operator's console sees every app); 401 otherwise (same answer
 * for unknown apps). The admin token on an unknown app is a 404.
 */
export async function authenticateApp(
  ctx: ApiContext,
  request: FastifyRequest,
  app: string,
): Promise<AppRow> {
  const secret = bearer(request);
  if (!secret) throw unauthorized(app, false);
  if (isAdminToken(ctx, secret)) {
    const row = await findApp(ctx.core().pool, app);
    if (!row) throw new ApiError(404, 'NOT_FOUND', `app "${app}" not found`);
    return row;
  }
  const row = await ctx
    .core()
    .auth.authenticate(app, secret)
    .catch((err: unknown) => {
      if (!(err instanceof AuthBusyError)) throw err;
      throw new ApiError(429, 'TOO_MANY_REQUESTS', err.message, undefined, {
        'retry-after': String(err.retryAfterS),
      });
    });
  if (!row) throw unauthorized(app, true);
  return row;
}

/**
 * Creating and listing apps needs the admin token; a server started without
 * one has no admin (secure by default: no open app creation).
 */
export function requireAdmin(ctx: ApiContext, request: FastifyRequest, doing: string): void {
  if (!ctx.adminToken) {
    throw new ApiError(
      403,
      'FORBIDDEN',
      `${doing} needs the admin token, and this server was started without one (set DROVER_ADMIN_TOKEN or DROVER_ADMIN_TOKEN_FILE)`,
    );
  }
  if (!isAdminToken(ctx, bearer(request))) {
    throw new ApiError(
      401,
      'UNAUTHORIZED',
      `${doing} needs "Authorization: Bearer <admin token>" (the server's DROVER_ADMIN_TOKEN)`,
    );
  }
}
