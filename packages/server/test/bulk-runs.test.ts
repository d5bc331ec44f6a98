import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_PARAMS_BYTES } from '../src/jobs/params-size.js';
import { useDispatchSetup } from './support/dispatch-setup.js';

const s = useDispatchSetup();
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: s.db.url });
  await sql.connect();
});
afterAll(() => sql.end());
afterEach(() => vi.restoreAllMocks());

interface View {
  id: string;
  status: string;
  params: unknown;
  epoch: number;
  workerId: string | null;
  dispatchedAt: number | null;
  deadlineAt: number | null;
  nextDispatchAt: number;
  createdAt: number;
}

const runsPath = (jobId: string) => `/api/v1/apps/${s.app.name}/jobs/${jobId}/runs`;
const bulk = (jobId: string, runs: unknown) => s.app.api.post(runsPath(jobId), { runs });
const countRuns = async (jobId: string) =>
  (await sql.query('SELECT count(*)::int AS n FROM instances WHERE job_id = $1', [jobId])).rows[0]
    .n as number;

/** Until the server's registry lists the worker (its heartbeat is handled asynchronously). */
async function untilListed(workerId: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await s.app.api.get(`/api/v1/apps/${s.app.name}/workers`);
    if (res.body.workers.some((w: { workerId: string }) => w.workerId === workerId)) return;
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('POST /jobs/{id}/runs', () => {
  it('creates the runs and answers their instances in order', async () => {
    const jobId = await s.createJob({ processorName: 'nobody-has-it' });
    const res = await bulk(
      jobId,
      Array.from({ length: 50 }, (_, i) => ({ params: { n: i } })),
    );
    expect(res.status).toBe(201);
    const instances = res.body.instances as View[];
    expect(instances.map((i) => i.params)).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ n: i })),
    );
    const ids = instances.map((i) => BigInt(i.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(await countRuns(jobId)).toBe(50);
  });

  it('honours each run’s idempotency key, also twice in one call and on a retried call', async () => {
    const jobId = await s.createJob({ processorName: 'nobody-has-it' });
    const single = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/run`, {
      idempotencyKey: 'before',
    });
    expect(single.status).toBe(202);
    const body = [
      { idempotencyKey: 'a', params: 1 },
      { idempotencyKey: 'b', params: 2 },
      { idempotencyKey: 'a', params: 3 },
      { idempotencyKey: 'before' },
    ];
    const first = await bulk(jobId, body);
    expect(first.status).toBe(201);
    const ids = (first.body.instances as View[]).map((i) => i.id);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[3]).toBe(single.body.id);
    expect((first.body.instances as View[])[2]?.params).toBe(1);
    const retried = await bulk(jobId, body);
    expect(retried.status).toBe(201);
    expect((retried.body.instances as View[]).map((i) => i.id)).toEqual(ids);
    expect(await countRuns(jobId)).toBe(3);
  });

  it('refuses a bad run naming its index and field, creating none of the others', async () => {
    const jobId = await s.createJob();
    const runs: unknown[] = Array.from({ length: 5 }, () => ({}));
    runs[3] = { delayMs: -1 };
    const res = await bulk(jobId, runs);
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual([
      'body.runs[3].delayMs',
    ]);
    expect(res.body.error.message).toMatch(/body\.runs\[3\]\.delayMs/);

    const big = 'x'.repeat(MAX_PARAMS_BYTES);
    const tooLarge = await bulk(jobId, [{}, {}, { params: big }]);
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error.issues.map((i: { path: string }) => i.path)).toEqual([
      'body.runs[2].params',
    ]);
    expect(await countRuns(jobId)).toBe(0);
  });

  it('refuses more than 1,000 runs, and none at all', async () => {
    const jobId = await s.createJob();
    for (const runs of [Array.from({ length: 1001 }, () => ({})), []]) {
      const res = await bulk(jobId, runs);
      expect(res.status).toBe(400);
      expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['body.runs']);
    }
    expect(
      (
        await bulk(
          jobId,
          Array.from({ length: 1000 }, () => ({})),
        )
      ).status,
    ).toBe(201);
    expect(await countRuns(jobId)).toBe(1000);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await s.app.api.get('/api/v1/openapi.json');
    expect(doc.body.paths['/api/v1/apps/{app}/jobs/{jobId}/runs'].post).toBeDefined();
  });
});

describe('POST /jobs/{id}/run under concurrency', () => {
  it('gives one instance per idempotency key to a racing burst, never an error', async () => {
    const jobId = await s.createJob({ processorName: 'nobody-has-it' });
    const calls = Array.from({ length: 200 }, (_, i) =>
      s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/run`, {
        idempotencyKey: `key-${i % 20}`,
      }),
    );
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status).filter((st) => st !== 200 && st !== 202)).toEqual([]);
    const idsByKey = new Map<string, Set<string>>();
    answers.forEach((a, i) => {
      const key = `key-${i % 20}`;
      idsByKey.set(key, (idsByKey.get(key) ?? new Set()).add(a.body.id));
    });
    expect([...idsByKey.values()].map((ids) => ids.size)).toEqual(Array(20).fill(1));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(20);
    expect(await countRuns(jobId)).toBe(20);
  });
});

describe('insert and claim', () => {
  it('binds a due run of an unlimited job to a live worker in its INSERT, with its deadline', async () => {
    const w = await s.worker({ processors: ['claimed-at-insert'] });
    await untilListed(w.options.workerId);
    const jobId = await s.createJob({
      processorName: 'claimed-at-insert',
      instanceTimeoutMs: 60_000,
    });
    const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/run`, {});
    expect(res.status).toBe(202);
    const run = res.body as View;
    // The answer is the row as inserted: already claimed, no second statement needed.
    expect(run).toMatchObject({
      status: 'WAITING_WORKER_RECEIVE',
      epoch: 1,
      workerId: w.options.workerId,
    });
    expect((run.deadlineAt ?? 0) - (run.dispatchedAt ?? 0)).toBe(60_000);
    await w.until(() => w.runs.some((r) => r.instanceId === run.id && r.epoch === 1));

    const delayed = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/run`, {
      delayMs: 60_000,
    });
    expect(delayed.body).toMatchObject({ status: 'WAITING_DISPATCH', epoch: 0, workerId: null });
    const limited = await s.createJob({
      processorName: 'claimed-at-insert',
      maxConcurrentInstances: 1,
    });
    const queued = await bulk(limited, [{}]);
    expect(queued.body.instances[0]).toMatchObject({ status: 'WAITING_DISPATCH', epoch: 0 });
  });

  it('binds runs to a busy worker too (it queues them): no second statement for a burst', async () => {
    const w = await s.worker({ processors: ['claimed-when-busy'], freeSlots: 0 });
    await untilListed(w.options.workerId);
    const jobId = await s.createJob({ processorName: 'claimed-when-busy' });
    const res = await bulk(jobId, [{}, {}, {}]);
    expect(res.status).toBe(201);
    for (const run of res.body.instances)
      expect(run).toMatchObject({
        status: 'WAITING_WORKER_RECEIVE',
        epoch: 1,
        workerId: w.options.workerId,
      });
  });

  it('adds runs from the job as edited on another server; reads an unedited job once; 404 once deleted', async () => {
    const w = await s.worker({ processors: ['kept'] });
    const jobId = await s.createJob({ processorName: 'kept', jobParams: 'v1' });
    const jobParamsOf = async (id: string) => {
      await w.until(() => w.runs.some((r) => r.instanceId === id));
      return w.runs.find((r) => r.instanceId === id)?.jobParams;
    };
    const reads = countJobReads();
    expect(await jobParamsOf((await s.run(jobId)).id)).toBe('v1');
    expect(await jobParamsOf((await s.run(jobId)).id)).toBe('v1');
    expect(reads()).toBe(1); // the second run was added from the kept job
    // Edited elsewhere (another server, an older one too, writes the row; a trigger bumps its version).
    await sql.query(`UPDATE jobs SET spec = jsonb_set(spec, '{jobParams}', '"v2"') WHERE id = $1`, [
      jobId,
    ]);
    const res = await bulk(jobId, [{}, {}]);
    expect(res.status).toBe(201);
    for (const i of res.body.instances as View[]) expect(await jobParamsOf(i.id)).toBe('v2');
    expect(await jobParamsOf((await s.run(jobId)).id)).toBe('v2');
    expect(reads()).toBe(2);
    await sql.query('DELETE FROM instances WHERE job_id = $1', [jobId]);
    await sql.query('DELETE FROM jobs WHERE id = $1', [jobId]);
    const gone = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${jobId}/run`, {});
    expect(gone.status).toBe(404);
    expect(await countRuns(jobId)).toBe(0);
  });
});

/** Counts the server's reads of one job (the statement `getJob` prepares). */
function countJobReads(): () => number {
  let n = 0;
  const query = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    if ((args[0] as { name?: string } | undefined)?.name === 'drover.get-job') n++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query);
  return () => n;
}
