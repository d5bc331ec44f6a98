import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { FINAL, instanceWhere, startUp, type UpProcess } from '../../harness/drover-up.js';
import { stopProcess } from '../../harness/process.js';
import { commandLine, descendants, isRunning, untilGone } from '../../harness/process-tree.js';

// `drover up` killed with SIGKILL takes its nats-server and Postgres with it
// (setpriv --pdeathsig), and the next `drover up` on the same data dir has
// everything committed before, and settles the run that was cut off. Its
// Postgres or nats-server killed under it is restarted on the same port.

const dirs: string[] = [];
const running: UpProcess[] = [];
const newDataDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'drover-up-kill-'));
  dirs.push(dir);
  return dir;
};
const up = async (dataDir: string) => {
  const u = await startUp(dataDir);
  running.push(u);
  return u;
};

afterAll(async () => {
  await Promise.all(running.map((u) => stopProcess(u.proc, 'SIGKILL')));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// docs/guarantees.md: the children of a SIGKILLed `drover up` are gone within 5 s.
const CHILDREN_GONE_MS = 5_000;
// docs/guarantees.md: a run whose process died is settled within 15 s + 1 s after the server started.
const SETTLED_MS = 15_000 + 1_000;

/** Runs `hello` to success; a 503 (a dependency coming back) is retried, as clients do. */
async function runHello(u: UpProcess, jobId: string, name: string) {
  const until = performance.now() + 30_000;
  let run = await u.api.post(`/jobs/${jobId}/run`, { params: { name } });
  while (run.status === 503 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    run = await u.api.post(`/jobs/${jobId}/run`, { params: { name } });
  }
  expect(run.status).toBe(202);
  return instanceWhere(u.api, run.body.id, (i) => i.status === 'SUCCEEDED', 30_000);
}

async function createJob(u: UpProcess, spec: Record<string, unknown>): Promise<string> {
  const created = await u.api.post('/jobs', { timeExpressionType: 'API', ...spec });
  expect(created.status).toBe(201);
  return created.body.id;
}

describe('drover up under SIGKILL', () => {
  it('leaves no child running, and comes back with every committed job and run, the cut-off run settled', async () => {
    const dataDir = await newDataDir();
    const first = await up(dataDir);
    const hello = await createJob(first, { name: 'hello', processorName: 'hello' });
    const sum = await createJob(first, {
      name: 'sum',
      processorName: 'sum-range',
      executeType: 'MAP_REDUCE',
    });
    const done = await runHello(first, hello, 'before');
    // A map-reduce of a thousand chunks: still running when drover up is killed.
    const cut = await first.api.post(`/jobs/${sum}/run`, { params: { n: 1e9, chunk: 1e6 } });
    expect(cut.status).toBe(202);
    await instanceWhere(first.api, cut.body.id, (i) => i.status === 'RUNNING', 30_000);

    const pid = first.proc.child.pid as number;
    const children = descendants(pid);
    // nats-server, the postmaster and its own processes (checkpointer, backends, …).
    expect(children.length).toBeGreaterThanOrEqual(3);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    const goneMs = await untilGone(children, CHILDREN_GONE_MS);
    expect(goneMs).toBeLessThanOrEqual(CHILDREN_GONE_MS);

    const second = await up(dataDir);
    const jobs = await second.api.get('/jobs?limit=100');
    expect(jobs.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([hello, sum].sort());
    const before = await second.api.get(`/instances/${done.id}`);
    expect(before.body).toMatchObject({ status: 'SUCCEEDED', result: 'hello, before' });
    const settled = await instanceWhere(
      second.api,
      cut.body.id,
      (i) => FINAL.includes(String(i.status)),
      SETTLED_MS,
    );
    expect(performance.now() - second.readyAt).toBeLessThanOrEqual(SETTLED_MS);
    expect(settled.status).toBe('FAILED');
    // And it works: a new run succeeds.
    await runHello(second, hello, 'after');
    second.proc.child.kill('SIGINT');
    expect(await second.proc.exited).toBe(0);
  }, 120_000);

  it('restarts a SIGKILLed Postgres and nats-server on the same ports, losing nothing committed', async () => {
    const dataDir = await newDataDir();
    const u = await up(dataDir);
    const hello = await createJob(u, { name: 'hello', processorName: 'hello' });
    const done = await runHello(u, hello, 'before');

    const lockedChildren = async (): Promise<number[]> =>
      JSON.parse(await readFile(join(dataDir, 'drover-up.lock'), 'utf8')).children.map(
        (c: { pid: number }) => c.pid,
      );
    const postmasterPid = async () =>
      Number((await readFile(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const killed = await postmasterPid();
    expect(isRunning(killed)).toBe(true);
    process.kill(killed, 'SIGKILL');
    await u.proc.waitFor(/"msg":"postgres restarted"/, 60_000);
    expect(await postmasterPid()).not.toBe(killed);
    // The lock names the new postmaster (recorded before "restarted" is logged), for a later recoverer.
    expect(await lockedChildren()).toContain(await postmasterPid());
    // The server finds it again (its pool reconnects to the same port): a run succeeds.
    const afterPostgres = await runHello(u, hello, 'after postgres');
    expect((await u.api.get(`/instances/${done.id}`)).body).toMatchObject({ status: 'SUCCEEDED' });

    const nats = descendants(u.proc.child.pid as number).find((p) =>
      commandLine(p).includes('nats-server'),
    );
    expect(nats).toBeDefined();
    process.kill(nats as number, 'SIGKILL');
    await u.proc.waitFor(/"msg":"nats-server restarted"/, 60_000);
    // Restarted with the same config: still nobody in without a key, and the keys still work (below).
    await expect(connect({ servers: u.natsUrl })).rejects.toBeInstanceOf(errors.AuthorizationError);
    const newNats = descendants(u.proc.child.pid as number).find((p) =>
      commandLine(p).includes('nats-server'),
    );
    expect(await lockedChildren()).toEqual(
      expect.arrayContaining([newNats, await postmasterPid()]),
    );
    await runHello(u, hello, 'after nats');

    const instances = await u.api.get('/instances?limit=100');
    expect(instances.body.instances.map((i: { id: string }) => i.id)).toEqual(
      expect.arrayContaining([done.id, afterPostgres.id]),
    );
    u.proc.child.kill('SIGINT');
    expect(await u.proc.exited).toBe(0);
  }, 120_000);
});
