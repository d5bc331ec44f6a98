import { type DroverEvent, routes, type serverMessages } from '@drover/protocol';
import { subscribeEvents } from '@drover/transport';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { uniqueName } from '../../../test/harness/fixtures.js';
import { ACCEPT_WRITE_DELAY_MS } from '../src/dispatch/held-accepts.js';
import { useDispatchSetup } from './support/dispatch-setup.js';
import type { FakeWorker } from './support/fake-worker.js';
import { createTestApp, type TestApp, waitForInstance } from './support/server-fixture.js';

// report_finals: a worker's final reports in one message, settled by one
// UPDATE where it can, each answered exactly as report_instance_status
// answers it alone, and a batch sent again settles nothing twice.

type FinalReport = z.input<typeof serverMessages.FinalReport>;
type Status = FinalReport['status'];

const s = useDispatchSetup();
let sql: pg.Client;
let other: TestApp;
const events: DroverEvent[] = [];

beforeAll(async () => {
  sql = new pg.Client({ connectionString: s.db.url });
  // The database goes away with the file's fixtures: its end is no error.
  sql.on('error', () => undefined);
  await sql.connect();
  other = await createTestApp(s.server, uniqueName('other'));
  const monitor = await s.nats.connect('monitor');
  subscribeEvents(monitor.nc, s.app.name, (e) => events.push(e), pino({ level: 'silent' }));
  await monitor.nc.flush();
  return () => sql.end();
});
afterEach(() => vi.restoreAllMocks());

/** `n` runs of a new job accepted by `w` (RUNNING), with their epochs. */
async function runsOn(w: FakeWorker, n: number, spec: Record<string, unknown> = {}) {
  const job = await s.createJob({ processorName: w.options.processors?.[0], ...spec });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await s.run(job)).id);
  await w.until(() => ids.every((id) => w.runs.some((r) => r.instanceId === id)));
  const runs = [];
  for (const id of ids) {
    const i = await waitForInstance(s.app, id, (i) => i.status === 'RUNNING');
    runs.push({ instanceId: id, epoch: i.epoch as number });
  }
  return runs;
}

type Run = { instanceId: string; epoch: number };

/** One run of a new job accepted by `w`. */
async function runOn(w: FakeWorker, spec: Record<string, unknown> = {}): Promise<Run> {
  const [run] = await runsOn(w, 1, spec);
  if (!run) throw new Error('no run');
  return run;
}

/** Two runs alike: one reported alone, its twin in a batch. */
async function twins(w: FakeWorker, spec: Record<string, unknown> = {}): Promise<[Run, Run]> {
  return [await runOn(w, spec), await runOn(w, spec)];
}

function final(
  run: { instanceId: string; epoch: number },
  status: Status,
  extra: Partial<FinalReport> = {},
): FinalReport {
  return {
    ...run,
    status,
    progress: { total: 1, succeeded: status === 'SUCCEEDED' ? 1 : 0, failed: 0, running: 0 },
    result: `${status.toLowerCase()} ${run.instanceId}`,
    reportedAt: Date.now(),
    ...extra,
  };
}

function sendFinals(w: FakeWorker, reports: FinalReport[], app = s.app.name) {
  return w.bus.ask(
    routes.server.reportFinals,
    { app },
    { workerId: w.options.workerId, reports },
    { idempotencyKey: 'batch-key' },
  );
}

/**
 * Counts the UPDATEs of instances the server sends that name one of `ids`,
 * and the statements matching `also` (all of pg's queries go through Client#query).
 */
function countQueries(ids: string[], also = /^$/) {
  const wanted = new Set(ids);
  let n = 0;
  let matching = 0;
  const query = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const [text, params] = args as [unknown, unknown];
    const config =
      typeof text === 'string' ? undefined : (text as { text?: string; values?: unknown });
    const sqlText = config ? config.text : (text as string);
    // A named statement (a config object) carries its values in the config.
    const given = config?.values ?? params;
    // An array parameter goes as its array literal's text (pgArray): its quoted elements.
    const values = (Array.isArray(given) ? given.flat() : []).flatMap((v) =>
      typeof v === 'string' && v.startsWith('{')
        ? [...v.matchAll(/"([^"]*)"/g)].map((m) => m[1])
        : [v],
    );
    if (also.test(sqlText ?? '')) matching++;
    if (
      /^\s*(WITH[\s\S]*)?UPDATE instances/.test(sqlText ?? '') &&
      values.some((v) => wanted.has(String(v)))
    )
      n++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query);
  return { updates: () => n, matching: () => matching };
}

describe('report_finals', () => {
  it('settles a batch of 50 successes with one UPDATE and answers each one', async () => {
    const w = await s.worker({
      processors: ['batch'],
      reportProgress: false,
      trackRuns: true,
      freeSlots: 100,
    });
    const runs = await runsOn(w, 50);
    const { updates } = countQueries(runs.map((r) => r.instanceId));
    const reply = await sendFinals(
      w,
      runs.map((r) => final(r, 'SUCCEEDED')),
    );
    expect(reply.results).toEqual(
      runs.map((r) => ({ instanceId: r.instanceId, accepted: true, stop: false })),
    );
    expect(updates()).toBe(1);
    for (const r of runs) {
      const done = await waitForInstance(s.app, r.instanceId, (i) => i.status === 'SUCCEEDED');
      expect(done.result).toBe(`succeeded ${r.instanceId}`);
      expect(done.progress).toMatchObject({ succeeded: 1 });
    }
  });

  it('answers a mixed batch per run exactly as report_instance_status answers each alone', async () => {
    const w = await s.worker({
      processors: ['mixed'],
      reportProgress: false,
      trackRuns: true,
      freeSlots: 100,
    });
    const retried = { instanceRetry: { maximumAttempts: 2, initialIntervalMs: 60_000 } };
    // Two of each case: one reported alone, its twin in the batch.
    const ok = await twins(w);
    const stale = await twins(w);
    const dup = await twins(w);
    const fail = await twins(w);
    const retry = await twins(w, retried);
    const last = await twins(w, retried);
    for (const r of dup) await w.report(r, 'SUCCEEDED', 'first');
    // A run of another app, reported on this app's subject.
    const foreignJob = await other.api.post(`/api/v1/apps/${other.name}/jobs`, {
      name: uniqueName('job'),
      processorName: 'nobody',
      timeExpressionType: 'API',
    });
    const foreign = (
      await other.api.post(`/api/v1/apps/${other.name}/jobs/${foreignJob.body.id}/run`, {})
    ).body.id as string;
    // A run on its last attempt: a FAILED ends it.
    for (const r of last)
      await sql.query('UPDATE instances SET run_attempt = 2 WHERE id = $1', [r.instanceId]);

    const cases = (pick: 0 | 1) => {
      return [
        final(ok[pick], 'SUCCEEDED'),
        final({ ...stale[pick], epoch: 7 }, 'SUCCEEDED'),
        final(dup[pick], 'SUCCEEDED', { result: 'first' }),
        final(fail[pick], 'FAILED'),
        final(retry[pick], 'FAILED'),
        final(last[pick], 'FAILED'),
        final(ok[pick], 'STOPPED'),
        final({ instanceId: foreign, epoch: 1 }, 'SUCCEEDED'),
      ];
    };
    const alone = [];
    for (const r of cases(0)) {
      const reply = await w.bus.ask(
        routes.server.reportInstanceStatus,
        { app: s.app.name },
        { ...r, workerId: w.options.workerId },
      );
      alone.push({ instanceId: r.instanceId, ...reply });
    }
    const batch = await sendFinals(w, cases(1));
    const twin = new Map(cases(1).map((r, i) => [r.instanceId, cases(0)[i]?.instanceId]));
    // Same answers, reasons naming the twin's own id or epoch aside.
    expect(batch.results.map((r) => ({ ...r, instanceId: twin.get(r.instanceId) }))).toEqual(
      alone.map(({ workers: _w, ...r }) => r),
    );
    expect(batch.results.map((r) => r.accepted)).toEqual([
      true,
      false,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(batch.results[7]).toMatchObject({ stop: true, reason: 'no such instance in this app' });

    // Same end states.
    const view = async (id: string) => {
      const i = await waitForInstance(s.app, id, () => true);
      return { status: i.status, runAttempt: i.runAttempt, epoch: i.epoch };
    };
    for (const [b, a] of twin) {
      if (b === foreign || a === undefined) continue;
      expect(await view(b), `batch ${b} vs alone ${a}`).toEqual(await view(a));
    }
    expect(await view(retry[1].instanceId)).toMatchObject({
      status: 'WAITING_DISPATCH',
      runAttempt: 2,
    });
    expect(await view(last[1].instanceId)).toMatchObject({ status: 'FAILED' });
    const foreignNow = await other.api.get(`/api/v1/apps/${other.name}/instances/${foreign}`);
    expect(foreignNow.body.status).not.toBe('SUCCEEDED');
  });

  it('settles nothing twice when a batch comes again (same key, same reports)', async () => {
    const w = await s.worker({
      processors: ['again'],
      reportProgress: false,
      trackRuns: true,
      freeSlots: 100,
    });
    const runs = await runsOn(w, 4);
    const retry = await runOn(w, {
      instanceRetry: { maximumAttempts: 3, initialIntervalMs: 60_000 },
    });
    const reports = [
      ...runs.map((r, i) =>
        final(r, (['SUCCEEDED', 'FAILED', 'STOPPED', 'SUCCEEDED'] as const)[i] ?? 'SUCCEEDED'),
      ),
      final(retry, 'FAILED'),
    ];
    const first = await sendFinals(w, reports);
    const eventsOf = () =>
      events.filter(
        (e) =>
          e.type === 'instance' &&
          e.status !== 'RUNNING' &&
          reports.some((r) => r.instanceId === e.instanceId),
      );
    await expect.poll(() => eventsOf().length).toBe(reports.length);
    const states = async () => {
      const out = [];
      for (const r of reports) {
        const i = await waitForInstance(s.app, r.instanceId, () => true);
        out.push({
          status: i.status,
          finishedAt: i.finishedAt,
          runAttempt: i.runAttempt,
          result: i.result,
        });
      }
      return out;
    };
    const before = await states();
    expect(before.map((i) => i.status)).toEqual([
      'SUCCEEDED',
      'FAILED',
      'STOPPED',
      'SUCCEEDED',
      'WAITING_DISPATCH',
    ]);
    expect(before[4]?.runAttempt).toBe(2);
    const again = await sendFinals(w, reports);
    const andAgain = await sendFinals(w, [...reports].reverse());
    expect(again.results).toEqual(first.results);
    expect(andAgain.results).toEqual([...first.results].reverse());
    expect(first.results.every((r) => r.accepted && !r.stop)).toBe(true);
    // Nothing changed, the retry not used up by the copies.
    expect(await states()).toEqual(before);
    // No event either: one settled after the copies has its event, and none of theirs came before it.
    const marker = await runOn(w);
    await sendFinals(w, [final(marker, 'SUCCEEDED')]);
    await expect
      .poll(() =>
        events.some(
          (e) =>
            e.type === 'instance' && e.instanceId === marker.instanceId && e.status === 'SUCCEEDED',
        ),
      )
      .toBe(true);
    expect(eventsOf()).toHaveLength(reports.length);
  });

  it('records a run never recorded RUNNING: started_at from the worker, a RUNNING event before the end', async () => {
    const w = await s.worker({ processors: ['unrecorded'], reportProgress: false });
    const run = await runOn(w);
    const statuses = () =>
      events
        .filter((e) => e.type === 'instance' && e.instanceId === run.instanceId)
        .map((e) => (e as { status: string }).status);
    await expect.poll(statuses).toEqual(['RUNNING']);
    // Its accept lost (written with synchronous_commit off): back to WAITING_WORKER_RECEIVE, not started.
    const { rows } = await sql.query<{ dispatched: Date }>(
      `UPDATE instances SET status = 'WAITING_WORKER_RECEIVE', started_at = NULL
       WHERE id = $1 RETURNING dispatched_at AS dispatched`,
      [run.instanceId],
    );
    const startedAt = (rows[0]?.dispatched.getTime() as number) + 5;
    const reply = await sendFinals(w, [final(run, 'SUCCEEDED', { startedAt })]);
    expect(reply.results[0]).toMatchObject({ accepted: true, stop: false });
    const done = await waitForInstance(s.app, run.instanceId, (i) => i.status === 'SUCCEEDED');
    expect(done.startedAt).toBe(startedAt);
    await expect.poll(statuses).toEqual(['RUNNING', 'RUNNING', 'SUCCEEDED']);
  });

  it('writes a run that ends before its accept is written once (no RUNNING write), RUNNING then SUCCEEDED published, no queued-run lookup', async () => {
    const w = await s.worker({ processors: ['quick'], reportProgress: false, freeSlots: 100 });
    const job = await s.createJob({ processorName: 'quick' });
    // One call, one accept: the finals must come within the accept's 1 s hold,
    // which five calls in turn could use up on a loaded machine.
    const created = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${job}/runs`, {
      runs: [{}, {}, {}, {}, {}],
    });
    expect(created.status).toBe(201);
    const ids = (created.body.instances as { id: string }[]).map((i) => i.id);
    await w.until(() => ids.every((id) => w.runs.some((r) => r.instanceId === id)));
    const { updates, matching: lookups } = countQueries(ids, /WITH line AS/);
    const runs = ids.map((id) => ({
      instanceId: id,
      epoch: w.runs.find((r) => r.instanceId === id)?.epoch as number,
    }));
    const reply = await sendFinals(
      w,
      runs.map((r) => final(r, 'SUCCEEDED')),
    );
    expect(reply.results.every((r) => r.accepted)).toBe(true);
    // The non-event is the bound: past the accept write delay and its check, nothing more written.
    await new Promise((r) => setTimeout(r, ACCEPT_WRITE_DELAY_MS + 300));
    expect(updates()).toBe(1);
    // A job without a concurrency limit frees no slot anyone waits for.
    expect(lookups()).toBe(0);
    for (const id of ids) {
      const statuses = events
        .filter((e) => e.type === 'instance' && e.instanceId === id)
        .map((e) => (e as { status: string }).status);
      expect(statuses, id).toEqual(['RUNNING', 'SUCCEEDED']);
    }
  });

  it('announces a run first written RUNNING by its progress report (its accept held) once, as an accept', async () => {
    const w = await s.worker({ processors: ['beating'] }); // reports RUNNING every 300 ms
    const job = await s.createJob({ processorName: 'beating' });
    const { id } = await s.run(job);
    const statuses = () =>
      events
        .filter((e) => e.type === 'instance' && e.instanceId === id)
        .map((e) => (e as { status: string }).status);
    // RUNNING written by the report, well before the accept's write; it ends at once.
    await waitForInstance(s.app, id, (i) => i.status === 'RUNNING');
    const run = w.runs.find((r) => r.instanceId === id);
    if (!run) throw new Error('the worker got no run');
    await w.report(run, 'SUCCEEDED', 'done');
    await expect.poll(statuses).toEqual(['RUNNING', 'SUCCEEDED']);
    // The non-event is the bound: past the accept write delay, no RUNNING after its end.
    await new Promise((r) => setTimeout(r, ACCEPT_WRITE_DELAY_MS + 300));
    expect(statuses()).toEqual(['RUNNING', 'SUCCEEDED']);
  });

  it('leaves a held accept alone once another server wrote its run RUNNING or ended it: no second event, no stop', async () => {
    const w = await s.worker({ processors: ['elsewhere'], reportProgress: false, freeSlots: 100 });
    const job = await s.createJob({ processorName: 'elsewhere' });
    const reported = (await s.run(job)).id;
    const ended = (await s.run(job)).id;
    await w.until(() => [reported, ended].every((id) => w.runs.some((r) => r.instanceId === id)));
    // What another server's report handlers write (and announce themselves).
    await sql.query(`UPDATE instances SET status = 'RUNNING' WHERE id = $1`, [reported]);
    await sql.query(
      `UPDATE instances SET status = 'SUCCEEDED', finished_at = now() WHERE id = $1`,
      [ended],
    );
    // The non-event is the bound: past the accept write delay and its check.
    await new Promise((r) => setTimeout(r, ACCEPT_WRITE_DELAY_MS + 300));
    const announced = events.filter(
      (e) => e.type === 'instance' && [reported, ended].includes(e.instanceId),
    );
    expect(announced).toEqual([]);
    expect(w.stops.filter((x) => [reported, ended].includes(x.instanceId))).toEqual([]);
  });
});
