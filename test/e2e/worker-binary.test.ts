import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createTestApp,
  type TestApp,
  waitForInstance,
} from '../../packages/server/test/support/server-fixture.js';
import { spawnDrover } from '../harness/drover-process.js';
import { uniqueName, useDatabase } from '../harness/fixtures.js';
import { type ReadyProcess, stopProcess } from '../harness/process.js';

// Real drover-server and drover-worker processes, a real job, and a kill -9.

const db = useDatabase();
let server: ReadyProcess;
let app: TestApp;
const workers: ReadyProcess[] = [];

function startWorkerProcess(workerId: string): Promise<ReadyProcess> {
  return spawnDrover(
    'worker',
    ['--processors', 'test/fixtures/processors.ts', '--worker-id', workerId],
    {
      DROVER_NATS_URL: inject('natsUrl'),
      DROVER_APP: app.name,
      DROVER_APP_SECRET: app.secret,
      DROVER_LOG_LEVEL: 'info',
    },
    /"msg":"drover-worker running"/,
  );
}

beforeAll(async () => {
  server = await spawnDrover(
    'server',
    ['--http-port', '0'],
    { DROVER_NATS_URL: inject('natsUrl'), DROVER_DATABASE_URL: db.url, DROVER_LOG_LEVEL: 'info' },
    /"msg":"server ready"/,
  );
  const url = server.find(/"http":"(http:\/\/[^"]+)"/) as string;
  app = await createTestApp({ url }, uniqueName('app'));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => stopProcess(w, 'SIGKILL')));
  await stopProcess(server);
});

async function run(processorName: string, params?: unknown) {
  const job = await app.api.post(`/api/v1/apps/${app.name}/jobs`, {
    name: uniqueName('job'),
    processorName,
    timeExpressionType: 'API',
  });
  const res = await app.api.post(`/api/v1/apps/${app.name}/jobs/${job.body.id}/run`, { params });
  return res.body.id as string;
}

describe('drover-worker binary', () => {
  it('runs a job from a processors module', async () => {
    workers.push(await startWorkerProcess('w-echo'));
    const id = await run('echo', { text: 'through real processes' });
    const done = await waitForInstance(
      app,
      id,
      (i) => i.status === 'SUCCEEDED' || i.status === 'FAILED',
    );
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      result: 'through real processes',
      workerId: 'w-echo',
    });
  });

  it('settles a run whose worker was kill -9ed, within the silence bound', async () => {
    const victim = await startWorkerProcess('w-victim');
    workers.push(victim);
    const id = await run('forever');
    const running = await waitForInstance(app, id, (i) => i.status === 'RUNNING', 30_000);
    // Whichever worker took the run is the one to kill.
    const holder = running.workerId === 'w-victim' ? victim : (workers[0] as ReadyProcess);
    holder.child.kill('SIGKILL');
    const failed = await waitForInstance(app, id, (i) => i.status === 'FAILED', 40_000);
    expect(failed.reason).toMatch(/silent/);
  }, 60_000);

  it('drains on SIGTERM: exits 0 after telling the servers it takes no work', async () => {
    const w = await startWorkerProcess('w-drain');
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.tail()).toMatch(/"msg":"worker stopped"/);
  });
});
