import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { isTransientDbError } from '../db/transient-error.js';

export interface Issue {
  path: string;
  message: string;
}

/** An error the API answers with as `{error: {code, message, issues?}}`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
    /** Response headers that go with it (e.g. Retry-After on a 429). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);

/** `/runs/3/delayMs` in `body` as `body.runs[3].delayMs`. */
function issuePath(where: string, instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), where);
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = (err as { validationContext?: string }).validationContext ?? 'body';
      const issues = err.validation.map((v) => ({
        path: issuePath(where, v.instancePath),
        message: v.message ?? 'invalid',
      }));
      return reply.status(400).send({
        error: {
          code: 'INVALID_INPUT',
          message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
          issues,
        },
      });
    }
    if (err instanceof ApiError) {
      if (err.headers) reply.headers(err.headers);
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code, message: err.message, issues: err.issues } });
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send({
        error: { code: (err as FastifyError).code ?? 'BAD_REQUEST', message: err.message },
      });
    }
    if (isTransientDbError(err)) {
      return reply
        .status(503)
        .send({ error: { code: 'UNAVAILABLE', message: 'database not reachable; try again' } });
    }
    log.error({ err, url: request.url }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  };
}
