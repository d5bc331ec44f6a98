import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { ApiClient } from './support/api-client.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// What a user trying workflows from outside ran into: a decision that cannot
// parse saved and failing only at run time, a job deleted from under a
// workflow, an update from a file that re-enabled a disabled workflow, and
// text Postgres cannot store answered with a 500.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let api: ApiClient;
let base: string;

const job = (id: string, name = 'extract') => ({ id, kind: 'job', job: name });
const decision = (expression: string) => ({ id: 'quality', kind: 'decision', expression });

async function createJob(name: string): Promise<string> {
  const res = await api.post(`${base}/jobs`, {
    name,
    processorName: 'noop',
    timeExpressionType: 'WORKFLOW',
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  api = new ApiClient(server.url, app.secret);
  base = `/api/v1/apps/${app.name}`;
  await createJob('extract');
});
afterAll(() => server.stop());

/** A spec whose decision node (nodes[1], "quality") has this expression. */
function withDecision(expression: string) {
  return {
    name: uniqueName('wf'),
    nodes: [job('extract'), decision(expression), job('load')],
    edges: [
      { from: 'extract', to: 'quality' },
      { from: 'quality', to: 'load', when: true },
    ],
  };
}

async function refused(res: { status: number; body: any }, path: string, message: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
}

describe('a decision’s expression is checked when the workflow is saved', () => {
  it('a syntax error is a 400 naming the node, on create and on update', async () => {
    const path = 'body.nodes[1].expression';
    const spec = withDecision('context.rows >');
    await refused(await api.post(`${base}/workflows`, spec), path, /node "quality": .*EOF/);
    const ok = await api.post(`${base}/workflows`, withDecision('context.ok'));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    await refused(
      await api.put(`${base}/workflows/${ok.body.id}`, { ...spec, name: ok.body.name }),
      path,
      /node "quality": .*EOF/,
    );
    const kept = await api.get(`${base}/workflows/${ok.body.id}`);
    expect(kept.body.spec.nodes[1].expression).toBe('context.ok');
  });

  it('a name other than context or params is a 400 naming it', async () => {
    await refused(
      await api.post(`${base}/workflows`, withDecision('ctx.rows > 0')),
      'body.nodes[1].expression',
      /node "quality": Unknown variable: ctx \(a decision reads only context and params\)/,
    );
  });

  it('an expression whose type is known and is not a boolean is a 400', async () => {
    await refused(
      await api.post(`${base}/workflows`, withDecision('context.rows + 1.0')),
      'body.nodes[1].expression',
      /node "quality": the expression gives a double, not a bool/,
    );
  });

  it('accepts what can give a boolean at run time, over context and params', async () => {
    for (const expression of [
      'context.badRows * 100.0 <= context.rows',
      'params.day == "2026-12-01" && has(context.files)',
      'context.ok',
    ]) {
      const res = await api.post(`${base}/workflows`, withDecision(expression));
      expect(res.status, `${expression}: ${JSON.stringify(res.body)}`).toBe(201);
    }
  });
});

describe('deleting a job a workflow uses', () => {
  it('is refused with a 409 naming the workflow, until no workflow uses it', async () => {
    const jobId = await createJob(uniqueName('used'));
    const wf = await api.post(`${base}/workflows`, {
      name: uniqueName('user'),
      nodes: [job('a', jobId)],
    });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    const refusedDelete = await api.delete(`${base}/jobs/${jobId}`);
    expect(refusedDelete.status).toBe(409);
    expect(refusedDelete.body.error.message).toContain(`used by workflow "${wf.body.name}"`);
    expect((await api.get(`${base}/jobs/${jobId}`)).status).toBe(200);

    // The workflow no longer uses it, but its unfinished run does (its DAG is a copy).
    const run = await api.post(`${base}/workflows/${wf.body.id}/run`, {});
    expect(run.status).toBe(202);
    const other = await api.put(`${base}/workflows/${wf.body.id}`, {
      name: wf.body.name,
      nodes: [job('a')],
    });
    expect(other.status).toBe(200);
    const whileRunning = await api.delete(`${base}/jobs/${jobId}`);
    expect(whileRunning.status).toBe(409);
    expect(whileRunning.body.error.message).toContain(`unfinished workflow run ${run.body.id}`);

    const stopped = await api.post(`${base}/workflow-runs/${run.body.id}/stop`);
    expect(stopped.body.status).toBe('STOPPED');
    expect((await api.delete(`${base}/jobs/${jobId}`)).status).toBe(204);
  });
});

describe('an update without `enabled`', () => {
  it('keeps the stored value; an update that gives it sets it', async () => {
    const spec = {
      name: uniqueName('cron'),
      schedule: { type: 'CRON', expression: '0 0 3 * * *' },
      nodes: [job('a')],
    };
    const wf = await api.post(`${base}/workflows`, spec);
    expect(wf.body.enabled).toBe(true);
    expect((await api.post(`${base}/workflows/${wf.body.id}/disable`)).body.enabled).toBe(false);

    const updated = await api.put(`${base}/workflows/${wf.body.id}`, spec);
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ enabled: false, spec: { enabled: false } });
    const shown = await api.get(`${base}/workflows/${wf.body.id}`);
    expect(shown.body).toMatchObject({ enabled: false, nextFireTimes: [] });

    const enabled = await api.put(`${base}/workflows/${wf.body.id}`, { ...spec, enabled: true });
    expect(enabled.body.enabled).toBe(true);
    expect((await api.get(`${base}/workflows/${wf.body.id}`)).body.nextFireTimes).toHaveLength(5);
  });
});

describe('a spec Postgres could not store, or a lifecycle that ends before it starts', () => {
  it('is a 400 naming the field, not a 500', async () => {
    const nul = await api.post(`${base}/workflows`, {
      name: 'a\u0000b',
      nodes: [{ id: 'q', kind: 'wait', delayMs: 1 }],
    });
    expect(nul.status, JSON.stringify(nul.body)).toBe(400);
    expect(nul.body.error.issues[0].path).toBe('body.name');
    const inParams = await api.post(`${base}/workflows`, {
      name: uniqueName('nul'),
      nodes: [{ ...job('a'), params: { note: 'x\u0000' } }],
    });
    expect(inParams.status).toBe(400);
    expect(inParams.body.error.issues[0].path).toBe('body.nodes[0].params.note');

    const backwards = await api.post(`${base}/workflows`, {
      name: uniqueName('life'),
      lifecycle: { start: '2027-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' },
      nodes: [{ id: 'q', kind: 'wait', delayMs: 1 }],
    });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.issues).toEqual([
      { path: 'body.lifecycle.end', message: 'must be after lifecycle.start' },
    ]);
  });
});

describe('a node of the wrong shape', () => {
  it('is a 400 whose issue names the node by id, as the graph checks do', async () => {
    const res = await api.post(`${base}/workflows`, {
      name: uniqueName('shape'),
      nodes: [
        { id: 'extract', kind: 'job', job: 'extract', retries: 3 },
        { id: 'pause', kind: 'wait', delayMs: '5s' },
      ],
      edges: [{ from: 'extract', to: 'pause' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([
      { path: 'body.nodes[0]', message: 'node "extract": Unrecognized key: "retries"' },
      {
        path: 'body.nodes[1].delayMs',
        message: 'node "pause": Invalid input: expected number, received string',
      },
    ]);
  });

  it('names no node when the id itself cannot be read', async () => {
    const res = await api.post(`${base}/workflows`, {
      name: uniqueName('shape'),
      nodes: [{ id: 7, kind: 'wait', delayMs: 1 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([
      { path: 'body.nodes[0].id', message: 'Invalid input: expected string, received number' },
    ]);
  });
});
