import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { apiViews } from '@drover/protocol';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// The HTTP API document as a user's tooling sees it: fetched from a running
// server, checked by two OpenAPI validators, turned into TypeScript types that
// a client compiles against.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let documentText: string;

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
}
interface Document {
  security?: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
}

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  const res = await fetch(`${server.url}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  documentText = await res.text();
});
afterAll(() => server.stop());

const document = (): Document => JSON.parse(documentText) as Document;

function operations(doc: Document): { key: string; path: string; operation: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      key: `${method.toUpperCase()} ${path}`,
      path,
      operation,
    })),
  );
}

describe('GET /api/v1/openapi.json', () => {
  it('validates with swagger-parser (every $ref resolves)', async () => {
    await expect(SwaggerParser.validate(document() as never)).resolves.toBeTruthy();
  });

  it('has no errors under redocly’s recommended rules', async () => {
    const problems = await lintFromString({
      source: documentText,
      absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const errors = problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
  });

  it('names every operation as the client’s methods are named', () => {
    const ids = Object.fromEntries(
      operations(document()).map(({ key, operation }) => [key, operation.operationId]),
    );
    for (const [key, id] of Object.entries(ids))
      expect({ key, id }).toEqual({ key, id: expect.any(String) });
    expect(new Set(Object.values(ids)).size).toBe(Object.keys(ids).length);
    expect(ids).toMatchObject({
      'GET /healthz': 'getHealth',
      'GET /readyz': 'getReadiness',
      'GET /api/v1/openapi.json': 'getOpenApiDocument',
      'POST /api/v1/apps': 'createApp',
      'GET /api/v1/apps': 'listApps',
      'GET /api/v1/apps/{app}': 'getApp',
      'POST /api/v1/apps/{app}/jobs': 'createJob',
      'GET /api/v1/apps/{app}/jobs': 'listJobs',
      'POST /api/v1/apps/{app}/jobs/preview': 'previewJob',
      'GET /api/v1/apps/{app}/jobs/{jobId}': 'getJob',
      'PUT /api/v1/apps/{app}/jobs/{jobId}': 'updateJob',
      'DELETE /api/v1/apps/{app}/jobs/{jobId}': 'deleteJob',
      'POST /api/v1/apps/{app}/jobs/{jobId}/enable': 'enableJob',
      'POST /api/v1/apps/{app}/jobs/{jobId}/disable': 'disableJob',
      'POST /api/v1/apps/{app}/jobs/{jobId}/run': 'runJob',
      'POST /api/v1/apps/{app}/jobs/{jobId}/runs': 'runMany',
      'GET /api/v1/apps/{app}/instances': 'listInstances',
      'GET /api/v1/apps/{app}/instances/{instanceId}': 'getInstance',
      'POST /api/v1/apps/{app}/instances/{instanceId}/stop': 'stopInstance',
      'POST /api/v1/apps/{app}/instances/{instanceId}/cancel': 'cancelInstance',
      'POST /api/v1/apps/{app}/instances/{instanceId}/retry': 'retryInstance',
      'GET /api/v1/apps/{app}/instances/{instanceId}/logs': 'getInstanceLogs',
      'GET /api/v1/apps/{app}/stats/runs': 'getRunStats',
      'GET /api/v1/apps/{app}/workers': 'listWorkers',
      'POST /api/v1/apps/{app}/workflows': 'createWorkflow',
      'GET /api/v1/apps/{app}/workflows': 'listWorkflows',
      'GET /api/v1/apps/{app}/workflows/{workflowId}': 'getWorkflow',
      'PUT /api/v1/apps/{app}/workflows/{workflowId}': 'updateWorkflow',
      'DELETE /api/v1/apps/{app}/workflows/{workflowId}': 'deleteWorkflow',
      'POST /api/v1/apps/{app}/workflows/{workflowId}/enable': 'enableWorkflow',
      'POST /api/v1/apps/{app}/workflows/{workflowId}/disable': 'disableWorkflow',
      'POST /api/v1/apps/{app}/workflows/{workflowId}/run': 'runWorkflow',
      'GET /api/v1/apps/{app}/workflow-runs': 'listWorkflowRuns',
      'GET /api/v1/apps/{app}/workflow-runs/{runId}': 'getWorkflowRun',
      'POST /api/v1/apps/{app}/workflow-runs/{runId}/stop': 'stopWorkflowRun',
      'POST /api/v1/apps/{app}/workflow-runs/{runId}/retry': 'retryWorkflowRun',
      'POST /api/v1/apps/{app}/workflow-runs/{runId}/nodes/{nodeId}/mark-success':
        'markWorkflowNodeSucceeded',
    });
  });

  it('asks for the app secret or the admin token on app routes: none for probes, the admin token for creating and listing apps', () => {
    const doc = document();
    const expected = (key: string, path: string) => {
      if (path.startsWith('/api/v1/apps/{app}')) return ['appSecret', 'adminToken'];
      return key === 'POST /api/v1/apps' || key === 'GET /api/v1/apps' ? ['adminToken'] : [];
    };
    for (const { key, path, operation } of operations(doc)) {
      const schemes = (operation.security ?? doc.security ?? []).flatMap(Object.keys);
      expect({ key, schemes }).toEqual({ key, schemes: expected(key, path) });
    }
  });

  // tsc takes seconds, more on a busy machine.
  it('generates TypeScript types that a client compiles against', {
    timeout: 120_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-openapi-'));
    try {
      await writeFile(join(dir, 'drover-api.ts'), astToString(await openapiTS(documentText)));
      const client = join(dir, 'client.ts');
      await writeFile(
        client,
        [
          "import type { components, operations } from './drover-api.js';",
          "type Instance = components['schemas']['Instance'];",
          "type RunBody = NonNullable<operations['runJob']['requestBody']>['content']['application/json'];",
          "type Accepted = operations['runJob']['responses'][202]['content']['application/json'];",
          "type Failure = operations['runJob']['responses'][400]['content']['application/json'];",
          "export const body: RunBody = { params: { ids: [1, 'two', null], deep: { ok: true } }, delayMs: 10, idempotencyKey: 'k' };",
          "export const status: Instance['status'] = 'SUCCEEDED';",
          'export const accepted = (i: Accepted): string[] => [i.id, i.jobId, i.status];',
          'export const failure = (f: Failure): string[] => (f.error.issues ?? []).map((i) => i.path + i.message);',
          '// @ts-expect-error: not a status of the API (the types are not `any`)',
          "export const wrong: Instance['status'] = 'DONE';",
          '// @ts-expect-error: delayMs is a number',
          "export const badBody: RunBody = { delayMs: 'soon' };",
          "export const probe: operations['getHealth']['responses'][200]['content']['application/json'] = { ok: true };",
        ].join('\n'),
      );
      const program = ts.createProgram([client], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2022.d.ts'],
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        types: [],
      });
      const diagnostics = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diagnostics).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('errors outside the routes answer in the API’s envelope', () => {
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${app.secret}`, ...init.headers },
    });

  async function envelope(res: Response) {
    const body: unknown = await res.json();
    expect(apiViews.ErrorView.safeParse(body).success, JSON.stringify(body)).toBe(true);
    return { status: res.status, ...(body as { error: Record<string, unknown> }) };
  }

  it('an unknown route or method is a 404 NOT_FOUND', async () => {
    for (const [method, path] of [
      ['GET', '/api/nope'],
      ['GET', `/api/v1/apps/${app.name}/nope?limit=3`],
      ['DELETE', '/healthz'],
    ] as const) {
      expect(await envelope(await call(path, { method }))).toEqual({
        status: 404,
        error: {
          code: 'NOT_FOUND',
          message: expect.stringContaining(`no route ${method} ${path.split('?')[0]}`),
        },
      });
    }
  });

  it('a body that is not JSON is a 400 INVALID_INPUT naming the body, and nothing is saved', async () => {
    const res = await call(`/api/v1/apps/${app.name}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "half',
    });
    expect(await envelope(res)).toEqual({
      status: 400,
      error: {
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^body: not valid JSON: /),
        issues: [{ path: 'body', message: expect.stringMatching(/^not valid JSON: /) }],
      },
    });
    expect((await app.api.get(`/api/v1/apps/${app.name}/jobs`)).body.jobs).toEqual([]);
  });

  it('a body of another content type is a 415 UNSUPPORTED_MEDIA_TYPE, and nothing is saved', async () => {
    const job = JSON.stringify({ name: 'typed', timeExpressionType: 'API', processorName: 'echo' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await call(`/api/v1/apps/${app.name}/jobs`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: job,
      });
      expect(await envelope(res)).toEqual({
        status: 415,
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `send the body as application/json (content type given: ${type})`,
        },
      });
    }
    expect((await app.api.get(`/api/v1/apps/${app.name}/jobs`)).body.jobs).toEqual([]);
  });

  it('a body over 1 MiB is a 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await call(`/api/v1/apps/${app.name}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'big', jobParams: 'x'.repeat(1024 * 1024) }),
    });
    expect(await envelope(res)).toEqual({
      status: 413,
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'body: larger than the 1048576 bytes a request may carry',
      },
    });
  });

  it('an empty JSON body is no body: a route without one answers, one that needs one names it', async () => {
    const created = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
      name: uniqueName('job'),
      timeExpressionType: 'API',
      processorName: 'echo',
    });
    expect(created.status).toBe(201);
    const json = { 'content-type': 'application/json' };
    const disable = await call(`/api/v1/apps/${app.name}/jobs/${created.body.id}/disable`, {
      method: 'POST',
      headers: json,
    });
    expect(disable.status).toBe(200);
    const create = await call(`/api/v1/apps/${app.name}/jobs`, { method: 'POST', headers: json });
    expect(await envelope(create)).toMatchObject({
      status: 400,
      error: { code: 'INVALID_INPUT', issues: [{ path: 'body' }] },
    });
  });
});
