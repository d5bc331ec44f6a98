import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// The HTTP API against requests no client of ours sends: bodies nested deep
// enough to overflow a recursive validator, and Hosts of another site (DNS
// rebinding) while it listens on loopback.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let port: number;

beforeAll(async () => {
  server = await startTestServer(db.url, { httpAllowedHosts: ['drover.internal'] });
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  port = Number(new URL(server.url).port);
});
afterAll(() => server.stop());

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(
  path: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { host, authorization: `Bearer ${app.secret}`, ...headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('JSON bodies', () => {
  it.each([5_000, 65])('nested %i deep get a 400 naming the problem, not a 500', async (depth) => {
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'echo',
    });
    expect(job.status).toBe(201);
    const bodies: [string, string][] = [
      [`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, `{"params":${nested(depth)}}`],
      [
        `/api/v1/apps/${app.name}/jobs`,
        `{"name":"deep","timeExpressionType":"API","processorName":"echo","jobParams":${nested(depth)}}`,
      ],
    ];
    for (const [path, body] of bodies) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.secret}` },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { code: 'INVALID_INPUT', message: 'body: JSON nests deeper than 64 levels' },
      });
    }
  });

  it('refuses bytes that are not UTF-8, which would be stored as U+FFFD', async () => {
    const job = `/api/v1/apps/${app.name}/jobs`;
    const name = uniqueName('job');
    const body = Buffer.concat([
      Buffer.from(
        `{"name":"${name}","timeExpressionType":"API","processorName":"echo","description":"`,
      ),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await fetch(`${server.url}${job}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${app.secret}` },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        issues: [{ path: 'body', message: expect.stringContaining('UTF-8') }],
      },
    });
    const saved = (await app.api.get(`${job}?limit=1000`)).body.jobs as { name: string }[];
    expect(saved.map((j) => j.name)).not.toContain(name);
  });

  it('takes 64 levels, and brackets inside strings do not count', async () => {
    const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'echo',
      jobParams: { text: '['.repeat(500), deep: JSON.parse(nested(62)) },
    });
    expect(job.status).toBe(201);
  });
});

describe('Host header on loopback', () => {
  it('answers localhost, 127.0.0.1 and [::1] with the port, and configured names', async () => {
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'drover.internal',
      'drover.internal:443',
    ]) {
      expect({
        host,
        status: (await getWithHost(`/api/v1/apps/${app.name}`, host)).status,
      }).toEqual({ host, status: 200 });
    }
  });

  it('refuses other names (DNS rebinding) and loopback names with another port with 421', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, 'localhost:80', 'localhost']) {
      const res = await getWithHost(`/api/v1/apps/${app.name}`, host);
      expect({ host, status: res.status }).toEqual({ host, status: 421 });
      expect(JSON.parse(res.body)).toMatchObject({
        error: {
          code: 'MISDIRECTED_REQUEST',
          message: expect.stringContaining('--http-allowed-hosts'),
        },
      });
    }
    // Health probes too: nothing on loopback answers a foreign page.
    expect((await getWithHost('/healthz', 'evil.example')).status).toBe(421);
  });
});

describe('requests refused before a route runs', () => {
  const get = (path: string, headers?: Record<string, string>) =>
    getWithHost(path, `127.0.0.1:${port}`, headers);

  it.each([
    [
      'a URL that is not valid percent-encoding',
      () => get(`/api/v1/apps/x/instances/%zz`),
      400,
      'INVALID_INPUT',
    ],
    [
      'headers past the limit',
      () => get('/healthz', { 'x-big': 'a'.repeat(20_000) }),
      431,
      'HEADERS_TOO_LARGE',
    ],
    ['a path climbing out of the console files', () => get('/../../etc/passwd'), 403, 'FORBIDDEN'],
  ] as const)('answers %s in the API envelope', async (_what, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toEqual({ error: { code, message: expect.any(String) } });
  });
});

describe('routes that take no body', () => {
  it('refuse a body with content, naming the route, and take none or {}', async () => {
    const tokens = `/api/v1/apps/${app.name}/tokens`;
    const named = await app.api.post(tokens, { name: 'ci' });
    expect(named.status).toBe(400);
    expect(named.body.error).toMatchObject({
      code: 'INVALID_INPUT',
      issues: [{ path: 'body', message: expect.stringContaining('takes no body') }],
    });
    expect((await app.api.post(tokens, {})).status).toBe(201);
    expect((await app.api.post(tokens)).status).toBe(201);
  });
});
