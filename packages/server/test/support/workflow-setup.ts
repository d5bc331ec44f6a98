import type { JsonValue } from '@drover/protocol';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { natsUrl, uniqueName, useDatabase } from '../../../../test/harness/fixtures.js';
import { testLogger } from '../../../../test/harness/logger.js';
import { type DroverWorker, type Processor, startWorker } from '../../../worker/src/index.js';
import type { DroverServer, ServerConfigInput } from '../../src/index.js';
import type { WorkflowRunDetailView } from '../../src/workflows/store/workflow-runs.js';
import { getWorkflowRun, startWorkflowRun } from '../../src/workflows/workflow-engine.js';
import { type WorkflowSpec, WorkflowSpecInput } from '../../src/workflows/workflow-spec.js';
import { createTestApp, startTestServer, type TestApp } from './server-fixture.js';

// Workflows for engine tests: rows inserted with SQL (the CRUD API is built
// elsewhere), the spec parsed as users write it, job and workflow names
// resolved to ids as the API would.

export interface TestWorkflow {
  id: string;
  spec: WorkflowSpec;
}

export async function appIdOf(db: pg.Pool | pg.Client, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM apps WHERE name = $1', [name]);
  if (!rows[0]) throw new Error(`no app ${name}`);
  return rows[0].id;
}

/** Inserts a workflow; `job` and `workflow` fields of nodes are ids here. */
export async function insertWorkflow(
  db: pg.Pool | pg.Client,
  appId: string,
  input: Record<string, unknown>,
): Promise<TestWorkflow> {
  const parsed = WorkflowSpecInput.parse(input);
  const spec: WorkflowSpec = { ...parsed, enabled: parsed.enabled ?? true };
  for (const n of spec.nodes) {
    if (n.kind === 'job') n.jobId = n.job;
    if (n.kind === 'workflow') n.workflowId = n.workflow;
  }
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO workflows (app_id, name, spec, time_expression_type) VALUES ($1, $2, $3, $4) RETURNING id`,
    [appId, spec.name, JSON.stringify(spec), spec.schedule.type],
  );
  return { id: (rows[0] as { id: string }).id, spec };
}

/** Polls the run (a database row: polling is the only way) until `done`, within `timeoutMs`. */
export async function waitForRun(
  pool: pg.Pool,
  appId: string,
  runId: string,
  done: (r: WorkflowRunDetailView) => boolean,
  timeoutMs = 30_000,
): Promise<WorkflowRunDetailView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await getWorkflowRun(pool, appId, runId);
    if (run && done(run)) return run;
    if (Date.now() > until) throw new Error(`workflow run ${runId} still ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const isFinal = (r: { status: string }) =>
  ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(r.status);

export function node(run: WorkflowRunDetailView, id: string) {
  const n = run.nodes.find((x) => x.nodeId === id);
  expect(n, `node ${id}`).toBeDefined();
  return n as WorkflowRunDetailView['nodes'][number];
}

/** Instances of a run's nodes, each with its node and attempt. */
export async function nodeInstances(db: pg.Pool | pg.Client, runId: string) {
  const { rows } = await db.query<{
    id: string;
    node: string;
    attempt: number;
    status: string;
    params: unknown;
    finished_at: Date | null;
  }>(
    `SELECT id, workflow_node_id AS node, workflow_node_attempt AS attempt, status, params, finished_at
     FROM instances WHERE workflow_run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows;
}

/** One server, one app, one in-process worker with `processors`, and a pool for the engine. */
export function useWorkflowSetup(
  processors: () => Processor[],
  overrides: Partial<ServerConfigInput> = {},
) {
  const db = useDatabase();
  const s = {
    db,
    server: undefined as unknown as DroverServer,
    app: undefined as unknown as TestApp,
    appId: '',
    pool: undefined as unknown as pg.Pool,
    worker: undefined as DroverWorker | undefined,
    async startWorker(): Promise<DroverWorker> {
      s.worker = await startWorker({
        natsUrl: natsUrl(),
        insecureNats: true,
        app: s.app.name,
        workerId: uniqueName('wf'),
        processors: processors(),
        log: testLogger('wf-worker'),
      });
      return s.worker;
    },
    async job(processorName: string, spec: Record<string, unknown> = {}): Promise<string> {
      const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs`, {
        name: uniqueName('job'),
        processorName,
        timeExpressionType: 'API',
        ...spec,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id as string;
    },
    workflow(input: Record<string, unknown>): Promise<TestWorkflow> {
      return insertWorkflow(s.pool, s.appId, { name: uniqueName('wf'), ...input });
    },
    async start(wf: TestWorkflow, initParams?: JsonValue) {
      const { run } = await startWorkflowRun(s.pool, {
        app: { id: s.appId, name: s.app.name },
        workflow: wf,
        initParams,
        triggerType: 'API',
      });
      return run;
    },
  };
  beforeAll(async () => {
    s.server = await startTestServer(db.url, overrides);
    await s.server.ready;
    s.app = await createTestApp(s.server, uniqueName('app'));
    s.pool = new pg.Pool({ connectionString: db.url, max: 3 });
    s.appId = await appIdOf(s.pool, s.app.name);
    await s.startWorker();
  });
  afterAll(async () => {
    await s.worker?.stop();
    await s.server?.stop();
    await s.pool?.end();
  });
  return s;
}
