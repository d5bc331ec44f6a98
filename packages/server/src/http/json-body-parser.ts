import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.js';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-depth.js';

const badBody = (problem: string) =>
  new ApiError(400, 'INVALID_INPUT', `body: ${problem}`, [{ path: 'body', message: problem }]);

/** What is wrong with a body the JSON parser refused, for the caller to fix. */
function jsonProblem(body: string): string {
  try {
    JSON.parse(body);
    // Valid JSON that the secure parser refuses: prototype poisoning.
    return 'not valid JSON: a "__proto__" or "constructor.prototype" key is not accepted';
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`;
  }
}

/**
 * Bodies are JSON only (any other content type is a 415), in UTF-8. An empty
 * body is no body; a body nesting too deep is refused before parsing, since later
 * recursion would overflow the stack; bad JSON is a 400 saying where.
 */
export function acceptJsonBodiesOnly(api: FastifyInstance): void {
  const parseJson = api.getDefaultJsonParser('error', 'error');
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    const bytes = raw as Buffer;
    if (bytes.length === 0) {
      done(null, undefined);
      return;
    }
    // Decoded as is, bytes that are not UTF-8 would be stored as U+FFFD, the sender's text lost.
    if (!isUtf8(bytes)) {
      done(badBody('not valid UTF-8 (JSON is UTF-8 text)'), undefined);
      return;
    }
    const body = bytes.toString('utf8');
    if (jsonNestsDeeperThan(body, MAX_JSON_DEPTH)) {
      done(badBody(`JSON nests deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    void parseJson(request, body, (err, parsed) => {
      if (err) done(badBody(jsonProblem(body)), undefined);
      else done(null, parsed);
    });
  });
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Nothing, or an empty object (`{}`, as some clients send with every POST). */
const isNoBody = (body: unknown) =>
  body === undefined ||
  body === null ||
  (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);

/**
 * A route that takes no body refuses one with content, as a route with a body
 * refuses a field it does not know: `{"name": …}` sent to create a token
 * would otherwise be dropped without a word. Registered before the routes.
 */
export function refuseBodiesWhereNoneIsTaken(api: FastifyInstance): void {
  api.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.schema?.body || !methods.some((m) => BODY_METHODS.has(m))) return;
    const given = route.preValidation;
    const before = Array.isArray(given) ? given : given ? [given] : [];
    route.preValidation = [
      ...before,
      async (request) => {
        if (!isNoBody(request.body))
          throw badBody(`${request.method} ${route.url} takes no body; send none (or {})`);
      },
    ];
  });
}
