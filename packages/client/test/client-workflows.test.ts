import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, useDatabase } from '../../../test/harness/fixtures.js';
import type { DroverServer } from '../../server/src/index.js';
import { createTestApp, startTestServer } from '../../server/test/support/server-fixture.js';
import { DroverApiError, DroverClient, type WorkflowSpecInput } from '../src/index.js';

// drover.workflows against a real server (no worker: nothing runs; the calls,
// their answers and errors).

const db = useDatabase();
let server: DroverServer;
let drover: DroverClient;

beforeAll(async () => {
  server = await startTestServer(db.url);
  await server.ready;
  const app = await createTestApp(server, uniqueName('app'));
  drover = new DroverClient({ url: server.url, app: app.name, secret: app.secret });
  await drover.createJob({ name: 'extract', processorName: 'etl', timeExpressionType: 'WORKFLOW' });
});
afterAll(() => server.stop());

const spec = (extra: Partial<WorkflowSpecInput> = {}): WorkflowSpecInput => ({
  name: uniqueName('wf'),
  maxConcurrentRuns: 0,
  schedule: { type: 'CRON', expression: '0 0 3 * * *' },
  nodes: [
    { id: 'extract', kind: 'job', job: 'extract' },
    { id: 'pause', kind: 'wait', delayMs: 10 },
  ],
  edges: [{ from: 'extract', to: 'pause' }],
  ...extra,
});

describe('drover.workflows', () => {
  it('creates, reads, lists, updates, disables and deletes a workflow', async () => {
    const created = await drover.workflows.create(spec());
    expect(created.enabled).toBe(true);
    const shown = await drover.workflows.get(created.id);
    expect(shown.nextFireTimes).toHaveLength(5);
    const page = await drover.workflows.list({ limit: 1000 });
    expect(page.workflows.map((w) => w.id)).toContain(created.id);
    const updated = await drover.workflows.update(
      created.id,
      spec({ name: created.name, edges: [] }),
    );
    expect(updated.spec.edges).toEqual([]);
    expect((await drover.workflows.disable(created.id)).enabled).toBe(false);
    expect((await drover.workflows.enable(created.id)).enabled).toBe(true);
    await drover.workflows.delete(created.id);
    await expect(drover.workflows.get(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a refused spec is a DroverApiError whose issue names the node', async () => {
    const bad = spec({ nodes: [{ id: 'load', kind: 'job', job: 'lod' }], edges: [] });
    const err = await drover.workflows.create(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DroverApiError);
    expect((err as DroverApiError).issues).toEqual([
      {
        path: 'body.nodes[0].job',
        message: expect.stringContaining('node "load": no job named "lod"'),
      },
    ]);
  });

  it('runs a workflow (the same run for the same key), reads and lists its runs', async () => {
    const wf = await drover.workflows.create(spec());
    const run = await drover.workflows.run(wf.id, { initParams: { day: 1 }, idempotencyKey: 'k' });
    expect(run).toMatchObject({ workflowId: wf.id, context: { day: 1 } });
    expect((await drover.workflows.run(wf.id, { idempotencyKey: 'k' })).id).toBe(run.id);
    const detail = await drover.workflows.getRun(run.id);
    expect(detail.nodes.map((n) => [n.nodeId, n.kind])).toEqual([
      ['extract', 'job'],
      ['pause', 'wait'],
    ]);
    const runs = await drover.workflows.listRuns({ workflowId: wf.id });
    expect(runs.runs.map((r) => r.id)).toEqual([run.id]);
  });
});
