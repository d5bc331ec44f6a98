import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../../test/harness/fixtures.js';
import { CONSOLE_CSP } from '../src/http/console-files.js';
import type { DroverServer } from '../src/index.js';
import { startTestServer } from './support/server-fixture.js';

// The web console under `/`: its files with strict headers, index.html for any
// page of the single-page app, the API's JSON 404 kept for /api/…, and a 503
// naming `pnpm build` when the console was never built.

const db = useDatabase();
const INDEX = '<!doctype html><title>Drover</title><div id="app"></div>';
const ASSET = 'console.log("drover")';
let dir: string;
let built: DroverServer;
let unbuilt: DroverServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-console-'));
  await mkdir(join(dir, 'built', 'assets'), { recursive: true });
  await mkdir(join(dir, 'empty'));
  await writeFile(join(dir, 'built', 'index.html'), INDEX);
  await writeFile(join(dir, 'built', 'assets', 'index-Ab12Cd34.js'), ASSET);
  await writeFile(join(dir, 'built', 'favicon.svg'), '<svg/>');
  [built, unbuilt] = await Promise.all([
    startTestServer(db.url, { consoleDir: join(dir, 'built') }),
    startTestServer(db.url, { consoleDir: join(dir, 'empty') }),
  ]);
  await Promise.all([built.ready, unbuilt.ready]);
});
afterAll(async () => {
  await Promise.all([built?.stop(), unbuilt?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** A request with a Host header of our choosing (fetch does not let one set it). */
function send(
  server: DroverServer,
  method: string,
  path: string,
  host?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { host: host ?? url.host },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const STRICT = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

describe('a built console', () => {
  it('answers / with index.html, strict headers, not cached without revalidation', async () => {
    const res = await send(built, 'GET', '/');
    expect(res.status).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers).toMatchObject({
      ...STRICT,
      'content-type': expect.stringContaining('text/html'),
      'cache-control': 'no-cache',
    });
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
  });

  it.each(['/runs/42', '/jobs/new', '/sign-in?next=%2Fruns', '/apis'])(
    'answers the page %s with index.html (the app routes in the browser)',
    async (path) => {
      const res = await send(built, 'GET', path);
      expect({ path, status: res.status, body: res.body }).toEqual({
        path,
        status: 200,
        body: INDEX,
      });
      expect(res.headers).toMatchObject({ ...STRICT, 'cache-control': 'no-cache' });
    },
  );

  it('serves hashed assets cached for good, other files revalidated', async () => {
    const asset = await send(built, 'GET', '/assets/index-Ab12Cd34.js');
    expect(asset.status).toBe(200);
    expect(asset.body).toBe(ASSET);
    expect(asset.headers).toMatchObject({
      ...STRICT,
      'content-type': expect.stringContaining('javascript'),
      'cache-control': 'public, max-age=31536000, immutable',
    });
    const icon = await send(built, 'GET', '/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('keeps the JSON 404 for unknown API routes and other methods', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/nothing-here'],
      ['GET', '/api'],
      ['GET', '/api/v2/apps'],
      ['POST', '/runs/42'],
      ['DELETE', '/'],
    ] as const) {
      const res = await send(built, method, path);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(JSON.parse(res.body)).toMatchObject({
        error: {
          code: 'NOT_FOUND',
          message: `no route ${method} ${path.split('?')[0]} (every route is listed by GET /api/v1/openapi.json)`,
        },
      });
    }
    // The probes and the document still answer as before.
    expect((await send(built, 'GET', '/healthz')).status).toBe(200);
    expect((await send(built, 'GET', '/api/v1/openapi.json')).status).toBe(200);
  });

  it('refuses other Hosts on loopback (DNS rebinding), pages and assets alike', async () => {
    for (const path of ['/', '/runs/1', '/assets/index-Ab12Cd34.js']) {
      const res = await send(built, 'GET', path, 'evil.example');
      expect({ path, status: res.status }).toEqual({ path, status: 421 });
      expect(res.body).not.toContain('Drover');
    }
  });

  it('leaves the static routes out of the OpenAPI document', async () => {
    const doc = JSON.parse((await send(built, 'GET', '/api/v1/openapi.json')).body) as {
      paths: Record<string, unknown>;
    };
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => !p.startsWith('/api/v1/'))).toEqual([
      '/healthz',
      '/readyz',
      '/metrics',
    ]);
  });
});

describe('a console that was not built', () => {
  it('answers its pages with a 503 naming `pnpm build`', async () => {
    for (const path of ['/', '/runs/42', '/index.html']) {
      const res = await send(unbuilt, 'GET', path);
      expect({ path, status: res.status }).toEqual({ path, status: 503 });
      expect(JSON.parse(res.body)).toMatchObject({
        error: { code: 'CONSOLE_NOT_BUILT', message: expect.stringContaining('pnpm build') },
      });
    }
    expect((await send(unbuilt, 'GET', '/api/v1/nothing-here')).status).toBe(404);
    expect((await send(unbuilt, 'GET', '/healthz')).status).toBe(200);
  });
});
