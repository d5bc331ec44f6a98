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
 * Bodies are JSON only (any other content type is a 415). An empty body is no
 * body; a body nesting too deep is refused before parsing, since later
 * recursion would overflow the stack; bad JSON is a 400 saying where.
 */
export function acceptJsonBodiesOnly(api: FastifyInstance): void {
  const parseJson = api.getDefaultJsonParser('error', 'error');
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const body = raw as string;
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
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
