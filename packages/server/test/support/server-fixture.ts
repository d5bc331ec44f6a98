import { randomBytes } from 'node:crypto';
import { natsUrl } from '../../../../test/harness/fixtures.js';
import { testLogger } from '../../../../test/harness/logger.js';
import type { DroverServer, ServerConfigInput } from '../../src/index.js';
import { startServer } from '../../src/index.js';
import type { WorkflowRunDetailView } from '../../src/workflows/store/workflow-runs.js';
import { ApiClient } from './api-client.js';

/** Short bounds so tests see the sweeper act in seconds. */
export const FAST: Partial<ServerConfigInput> = {
  scanIntervalMs: 100,
  lookaheadMs: 1_000,
  sweepIntervalMs: 200,
  acceptTimeoutMs: 6_500,
  silentMs: 1_500,
  workerDeadMs: 2_000,
  // Fake workers vanish to test the silence bound; lost workers (no-responders
  // probes) are tested with real processes in test/e2e/faults/lost-worker.test.ts.
  lostWorkerSilentMs: 60_000,
};

/** The admin token of every test server (app creation needs one). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export async function startTestServer(
  databaseUrl: string,
  overrides: Partial<ServerConfigInput> = {},
): Promise<DroverServer> {
  const server = await startServer(
    {
      natsUrl: natsUrl(),
      // The run's shared nats-server has no authorization (test/e2e/nats-permissions covers that).
      insecureNats: true,
      databaseUrl,
      httpPort: 0,
      serverId: `test-${randomBytes(3).toString('hex')}`,
      adminToken: TEST_ADMIN_TOKEN,
      ...FAST,
      ...overrides,
    },
    testLogger('server'),
  );
  return server;
}

export interface TestApp {
  name: string;
  secret: string;
  api: ApiClient;
  /** Its first NATS worker credential, from the creation answer. */
  workerKey: { publicKey: string; seed: string };
}

export async function createTestApp(server: { url: string }, name: string): Promise<TestApp> {
  const secret = randomBytes(16).toString('hex');
  const res = await new ApiClient(server.url, TEST_ADMIN_TOKEN).post('/api/v1/apps', {
    name,
    secret,
  });
  if (res.status !== 201)
    throw new Error(`could not create app: ${res.status} ${JSON.stringify(res.body)}`);
  return { name, secret, api: new ApiClient(server.url, secret), workerKey: res.body.workerKey };
}

/** Polls the API until the instance satisfies `done`; the event here is a database row, so polling is the only way. */
export async function waitForInstance(
  app: TestApp,
  instanceId: string,
  done: (i: { status: string; [k: string]: unknown }) => boolean,
  timeoutMs = 20_000,
): Promise<{ status: string; [k: string]: unknown }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.api.get(`/api/v1/apps/${app.name}/instances/${instanceId}`);
    if (res.status === 200 && done(res.body)) return res.body;
    if (Date.now() > until)
      throw new Error(`instance ${instanceId} still ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the API until the workflow run (with its `nodes`) satisfies `done`; a database row again. */
export async function waitForWorkflowRun(
  app: TestApp,
  runId: string,
  done: (r: WorkflowRunDetailView) => boolean,
  timeoutMs = 30_000,
): Promise<WorkflowRunDetailView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.api.get<WorkflowRunDetailView>(
      `/api/v1/apps/${app.name}/workflow-runs/${runId}`,
    );
    if (res.status === 200 && done(res.body)) return res.body;
    if (Date.now() > until)
      throw new Error(`workflow run ${runId} still ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
