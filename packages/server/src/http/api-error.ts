import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
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

/** A status's code where FRAMEWORK_CODES has none. */
const codeOfStatus = (status: number) => (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');

export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);

/** Codes of the 4xx answers that fastify gives before a route runs, in the API's words. */
const FRAMEWORK_CODES: Record<number, string> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

function frameworkError(
  status: number,
  message: string,
  request: FastifyRequest,
): { code: string; message: string } {
  const code = FRAMEWORK_CODES[status] ?? codeOfStatus(status);
  if (status === 415) {
    const given = request.headers['content-type'] ?? 'none';
    return { code, message: `send the body as application/json (content type given: ${given})` };
  }
  if (status === 413) {
    const limit = request.routeOptions.bodyLimit;
    return { code, message: `body: larger than the ${limit} bytes a request may carry` };
  }
  return { code, message };
}

/**
 * What fastify hands `frameworkErrors` (a URL that is not valid
 * percent-encoding) answered in the API's envelope, not fastify's own.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode ?? 400;
  const message =
    err.code === 'FST_ERR_BAD_URL' ? `the URL is not valid: ${request.url}` : err.message;
  return reply
    .status(status)
    .send({ error: { code: FRAMEWORK_CODES[status] ?? codeOfStatus(status), message } });
}

// Answers Node's HTTP parser gives before a request exists (headers too large,
// a malformed request, a timeout), in the API's envelope; the connection ends.
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than the server takes (16 KiB)'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
};

/**
 * fastify's `clientErrorHandler`: a raw HTTP answer on the socket, as nothing
 * else can be sent, then the connection ends from our side whatever the
 * client does (Node turned its timeout off: a half-open one would stay).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'the request is not valid HTTP'];
  const body = JSON.stringify({
    error: { code: FRAMEWORK_CODES[status] ?? codeOfStatus(status), message },
  });
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroy();
}

/** Unknown routes (and methods) answer in the same envelope as everything else. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0];
  return reply.status(404).send({
    error: {
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${path} (every route is listed by GET /api/v1/openapi.json)`,
    },
  });
}

/** `/runs/3/delayMs` in `body` as `body.runs[3].delayMs`. */
function issuePath(where: string, instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), where);
}

/**
 * `node "load": ` when the issue is inside a workflow node whose id can be
 * read (`/nodes/2/...` of a body whose nodes[2].id is a string), else ''.
 */
function nodeNamed(where: string, instancePath: string, body: unknown): string {
  const index = where === 'body' ? /^\/nodes\/(\d+)(\/|$)/.exec(instancePath)?.[1] : undefined;
  if (index === undefined) return '';
  const nodes = (body as { nodes?: unknown } | null)?.nodes;
  const id = Array.isArray(nodes)
    ? (nodes[Number(index)] as { id?: unknown } | null)?.id
    : undefined;
  return typeof id === 'string' && id.length <= 64 ? `node ${JSON.stringify(id)}: ` : '';
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const context = (err as { validationContext?: string }).validationContext ?? 'body';
      // As docs/server.md names them: `query.limit`, not fastify's `querystring.limit`.
      const where = context === 'querystring' ? 'query' : context;
      const issues = err.validation.map((v) => ({
        path: issuePath(where, v.instancePath),
        message: `${nodeNamed(where, v.instancePath, request.body)}${v.message ?? 'invalid'}`,
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
      const { code, message } = frameworkError(status, err.message, request);
      return reply.status(status).send({ error: { code, message } });
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
