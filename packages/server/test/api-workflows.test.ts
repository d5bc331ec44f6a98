import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../src/index.js';
import { MAX_WORKFLOW_DEPTH } from '../src/workflows/workflow-spec.js';
import { ApiClient } from './support/api-client.js';
import { createTestApp, startTestServer, type TestApp } from './support/server-fixture.js';

// The workflow API: what a spec must be to be saved (each rule a 400 naming
// the node), CRUD, the 409s, and runs asked through the API.

const db = useDatabase();
let server: DroverServer;
let app: TestApp;
let api: ApiClient;
let base: string;
let extractId: string;

const job = (id: string, name = 'extract') => ({ id, kind: 'job', job: name });

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  app = await createTestApp(server, uniqueName('app'));
  api = new ApiClient(server.url, app.secret);
  base = `/api/v1/apps/${app.name}`;
  for (const name of ['extract', 'load']) {
    const res = await api.post(`${base}/jobs`, {
      name,
      processorName: 'noop',
      timeExpressionType: 'WORKFLOW',
    });
    expect(res.status).toBe(201);
    if (name === 'extract') extractId = res.body.id;
  }
});
afterAll(() => server.stop());

async function refused(spec: Record<string, unknown>, path: string, message: RegExp) {
  const res = await api.post(`${base}/workflows`, spec);
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('INVALID_INPUT');
  expect(res.body.error.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
  expect(res.body.error.message).toMatch(message);
}

describe('a workflow spec is refused with a 400 naming the node', () => {
  it('a duplicate node id', async () => {
    await refused(
      { name: uniqueName('wf'), nodes: [job('a'), job('b'), job('a')] },
      'body.nodes[2].id',
      /node "a": duplicate id/,
    );
  });

  it('an edge to a node that does not exist, or from a node to itself', async () => {
    await refused(
      { name: uniqueName('wf'), nodes: [job('a')], edges: [{ from: 'a', to: 'b' }] },
      'body.edges[0].to',
      /no node "b"/,
    );
    await refused(
      { name: uniqueName('wf'), nodes: [job('a')], edges: [{ from: 'a', to: 'a' }] },
      'body.edges[0]',
      /node "a" cannot follow itself/,
    );
  });

  it('a cycle, named', async () => {
    await refused(
      {
        name: uniqueName('wf'),
        nodes: [job('a'), job('b'), job('c')],
        edges: [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'c' },
          { from: 'c', to: 'b' },
        ],
      },
      'body.nodes[1]',
      /cycle: b → c → b/,
    );
  });

  it('a node no root reaches', async () => {
    await refused(
      {
        name: uniqueName('wf'),
        nodes: [job('a'), job('b'), job('c')],
        edges: [
          { from: 'b', to: 'c' },
          { from: 'c', to: 'b' },
        ],
      },
      'body.nodes[1]',
      /node "b": not reachable from a root/,
    );
  });

  it('`when` missing on a decision’s edge, or on an edge out of any other node', async () => {
    const nodes = [job('a'), { id: 'd', kind: 'decision', expression: 'true' }, job('b')];
    await refused(
      {
        name: uniqueName('wf'),
        nodes,
        edges: [
          { from: 'a', to: 'd' },
          { from: 'd', to: 'b' },
        ],
      },
      'body.edges[1].when',
      /out of decision "d" need when/,
    );
    await refused(
      {
        name: uniqueName('wf'),
        nodes,
        edges: [
          { from: 'a', to: 'd', when: true },
          { from: 'd', to: 'b', when: true },
        ],
      },
      'body.edges[0].when',
      /only edges out of a decision take when \("a" is a job node\)/,
    );
  });

  it('a job the app does not have', async () => {
    await refused(
      { name: uniqueName('wf'), nodes: [job('a'), job('load', 'lod')] },
      'body.nodes[1].job',
      new RegExp(`node "load": no job named "lod" in app "${app.name}"`),
    );
  });

  it('node params that would not fit in a run message with the job’s params', async () => {
    await refused(
      {
        name: uniqueName('wf'),
        nodes: [job('a'), { ...job('big'), params: { blob: 'x'.repeat(600 * 1024) } }],
      },
      'body.nodes[1].params',
      /node "big": with the job's 0 bytes of jobParams, these params take \d+ bytes .* over the 524288-byte limit/,
    );
  });

  it('a workflow that nests itself, or that does not exist', async () => {
    const name = uniqueName('wf');
    await refused(
      { name, nodes: [{ id: 'me', kind: 'workflow', workflow: name }] },
      'body.nodes[0].workflow',
      /node "me": a workflow cannot nest itself/,
    );
    await refused(
      { name, nodes: [{ id: 'sub', kind: 'workflow', workflow: 'nope' }] },
      'body.nodes[0].workflow',
      /node "sub": no workflow named "nope"/,
    );
  });

  it('a cycle through nesting (an update that makes a nest b nest a)', async () => {
    const a = await api.post(`${base}/workflows`, { name: uniqueName('a'), nodes: [job('x')] });
    const b = await api.post(`${base}/workflows`, {
      name: uniqueName('b'),
      nodes: [{ id: 'inner', kind: 'workflow', workflow: a.body.name }],
    });
    expect(b.status).toBe(201);
    const res = await api.put(`${base}/workflows/${a.body.id}`, {
      name: a.body.name,
      nodes: [{ id: 'back', kind: 'workflow', workflow: b.body.id }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([
      {
        path: 'body.nodes[0].workflow',
        message: `node "back": nesting cycle: ${a.body.name} → ${b.body.name} → ${a.body.name}`,
      },
    ]);
  });

  it(`nesting deeper than ${MAX_WORKFLOW_DEPTH} levels`, async () => {
    // A chain of MAX_WORKFLOW_DEPTH + 1 workflows is fine; one more level is not.
    let inner = await api.post(`${base}/workflows`, { name: uniqueName('l0'), nodes: [job('x')] });
    for (let level = 1; level <= MAX_WORKFLOW_DEPTH; level++) {
      inner = await api.post(`${base}/workflows`, {
        name: uniqueName(`l${level}`),
        nodes: [{ id: 'sub', kind: 'workflow', workflow: inner.body.name }],
      });
      expect(inner.status, JSON.stringify(inner.body)).toBe(201);
    }
    await refused(
      {
        name: uniqueName('top'),
        nodes: [{ id: 'sub', kind: 'workflow', workflow: inner.body.id }],
      },
      'body.nodes[0].workflow',
      new RegExp(`node "sub": nesting too deep: .* is ${MAX_WORKFLOW_DEPTH + 1} levels`),
    );
  });

  it('nothing refused is saved', async () => {
    const { body } = await api.get(`${base}/workflows?limit=1000`);
    const bad = body.workflows.filter((w: { name: string }) => w.name.startsWith('top'));
    expect(bad).toEqual([]);
  });
});

describe('workflow CRUD', () => {
  it('creates with names resolved to ids, lists, shows next fire times, replaces, enables, deletes', async () => {
    const name = uniqueName('etl');
    const created = await api.post(`${base}/workflows`, {
      name,
      schedule: { type: 'CRON', expression: '0 0 3 * * *', timeZone: 'Europe/Paris' },
      nodes: [job('extract'), job('load', 'load')],
      edges: [{ from: 'extract', to: 'load' }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name, app: app.name, enabled: true });
    expect(created.body.spec.nodes[0]).toMatchObject({ id: 'extract', jobId: extractId });
    const id: string = created.body.id;

    const shown = await api.get(`${base}/workflows/${id}`);
    expect(shown.body.nextFireTimes).toHaveLength(5);
    for (const at of shown.body.nextFireTimes)
      expect(
        new Intl.DateTimeFormat('en', {
          timeZone: 'Europe/Paris',
          hour: 'numeric',
          hourCycle: 'h23',
        }).format(at),
      ).toBe('03');

    const listed = await api.get(`${base}/workflows?limit=1000`);
    expect(listed.body.workflows.map((w: { id: string }) => w.id)).toContain(id);

    expect((await api.post(`${base}/workflows`, { name, nodes: [job('a')] })).status).toBe(409);

    const replaced = await api.put(`${base}/workflows/${id}`, { name, nodes: [job('only')] });
    expect(replaced.status).toBe(200);
    expect(replaced.body.spec.nodes).toHaveLength(1);
    expect((await api.get(`${base}/workflows/${id}`)).body.nextFireTimes).toEqual([]);

    const disabled = await api.post(`${base}/workflows/${id}/disable`);
    expect(disabled.body.enabled).toBe(false);
    expect((await api.post(`${base}/workflows/${id}/enable`)).body.enabled).toBe(true);

    expect((await api.delete(`${base}/workflows/${id}`)).status).toBe(204);
    expect((await api.get(`${base}/workflows/${id}`)).status).toBe(404);
    expect((await api.delete(`${base}/workflows/${id}`)).status).toBe(404);
  });

  it('a rename onto another workflow’s name is a 409', async () => {
    const one = await api.post(`${base}/workflows`, { name: uniqueName('one'), nodes: [job('a')] });
    const two = await api.post(`${base}/workflows`, { name: uniqueName('two'), nodes: [job('a')] });
    const res = await api.put(`${base}/workflows/${two.body.id}`, {
      name: one.body.name,
      nodes: [job('a')],
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(`"${one.body.name}"`);
  });

  it('refuses to delete a workflow nested by another, or with an unfinished run', async () => {
    const inner = await api.post(`${base}/workflows`, {
      name: uniqueName('in'),
      nodes: [job('a')],
    });
    const outer = await api.post(`${base}/workflows`, {
      name: uniqueName('out'),
      nodes: [{ id: 'sub', kind: 'workflow', workflow: inner.body.name }],
    });
    const nested = await api.delete(`${base}/workflows/${inner.body.id}`);
    expect(nested.status).toBe(409);
    expect(nested.body.error.message).toContain(`nested by "${outer.body.name}"`);

    const run = await api.post(`${base}/workflows/${outer.body.id}/run`, {});
    expect(run.status).toBe(202);
    const running = await api.delete(`${base}/workflows/${outer.body.id}`);
    expect(running.status).toBe(409);
    expect(running.body.error.message).toMatch(/1 unfinished run/);
  });
});

describe('running a workflow through the API', () => {
  it('answers the run (202), the same run for the same idempotency key (200), and lists it', async () => {
    const wf = await api.post(`${base}/workflows`, {
      name: uniqueName('run'),
      maxConcurrentRuns: 0,
      nodes: [job('a'), job('b')],
      edges: [{ from: 'a', to: 'b' }],
    });
    const path = `${base}/workflows/${wf.body.id}/run`;
    const first = await api.post(path, { initParams: { day: '2026-12-01' }, idempotencyKey: 'k1' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      workflowId: wf.body.id,
      triggerType: 'API',
      initParams: { day: '2026-12-01' },
      context: { day: '2026-12-01' },
    });
    const again = await api.post(path, { initParams: { day: 'other' }, idempotencyKey: 'k1' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);

    const detail = await api.get(`${base}/workflow-runs/${first.body.id}`);
    expect(detail.body.nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(['a', 'b']);
    const listed = await api.get(`${base}/workflow-runs?workflowId=${wf.body.id}`);
    expect(listed.body.runs.map((r: { id: string }) => r.id)).toEqual([first.body.id]);
    expect((await api.get(`${base}/workflow-runs/999999999`)).status).toBe(404);
    expect((await api.post(`${base}/workflows/999999999/run`, {})).status).toBe(404);
  });
});
