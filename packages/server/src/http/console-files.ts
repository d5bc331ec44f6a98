import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// The web console (@drover/console's built files) under `/`. It is a
// single-page app: a GET of one of its pages (`/runs/42`) has no file and
// answers index.html, which routes in the browser.

/** The console's Content-Security-Policy: its own scripts and API only, never framed. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Paths that are never console pages: an unknown one answers the API's JSON 404. */
const NOT_PAGES = /^\/(api(\/|$)|healthz$|readyz$|metrics$)/;

/** Whether a request the routes did not match is a console page (answered with index.html). */
export function isConsolePage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?')[0] ?? '/';
  return !NOT_PAGES.test(path);
}

/** Vite writes content-hashed names under assets/: their content never changes. */
function cacheControl(path: string): string {
  return path.split(sep).includes('assets') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

const notBuilt = (dir: string) => ({
  error: {
    code: 'CONSOLE_NOT_BUILT',
    message: `the web console was not built (no index.html in ${dir}): run \`pnpm build\` and restart the server`,
  },
});

/**
 * Serves the console from `dir`; returns the answer for a page no file holds
 * (the not-found handler calls it for console pages).
 */
export async function serveConsole(
  api: FastifyInstance,
  dir: string,
): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply> {
  if (!existsSync(join(dir, 'index.html'))) {
    return (_request, reply) => reply.status(503).send(notBuilt(dir));
  }
  await api.register(fastifyStatic, {
    root: dir,
    // The headers are set here, for files and for index.html as a page's answer.
    cacheControl: false,
    setHeaders: (reply, path) => {
      reply.headers({ ...SECURITY_HEADERS, 'cache-control': cacheControl(path) });
    },
    // A directory's path (`/assets/`) is not a page either.
    redirect: false,
    dotfiles: 'ignore',
  });
  return (_request, reply) => reply.sendFile('index.html');
}
