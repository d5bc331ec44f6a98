import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FINAL, instanceWhere, startUp, type UpProcess } from '../harness/drover-up.js';
import { stopProcess } from '../harness/process.js';

// `drover up`'s Postgres takes many sessions at once: 200 API calls in
// flight together (creates, lists, runs, reads) all answer, and every run
// they start succeeds (under PGlite they got each other's parameters).

let dataDir: string;
let u: UpProcess | undefined;

afterAll(async () => {
  if (u) await stopProcess(u.proc, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('drover up under concurrent API calls', () => {
  it('answers 200 mixed calls at once with no error, and lists every created job', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'drover-up-concurrent-'));
    u = await startUp(dataDir);
    const api = u.api;
    const job = (name: string) =>
      api.post('/jobs', { name, processorName: 'hello', timeExpressionType: 'API' });
    const seed = await job('seed');
    expect(seed.status).toBe(201);
    const seedRuns = await Promise.all(
      Array.from({ length: 5 }, () => api.post(`/jobs/${seed.body.id}/run`, { params: {} })),
    );

    const calls = Array.from({ length: 200 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return job(`job-${i}`);
        case 1:
          return api.get('/jobs?limit=1000');
        case 2:
          return api.post(`/jobs/${seed.body.id}/run`, { params: { name: `run-${i}` } });
        default:
          return api.get(`/instances/${seedRuns[i % 5]?.body.id}`);
      }
    });
    const answers = await Promise.all(calls);
    const errors = answers.filter((a) => a.status >= 400);
    expect(errors).toEqual([]);

    const created = answers.filter((_, i) => i % 4 === 0).map((a) => a.body.id as string);
    const listed = await api.get('/jobs?limit=1000');
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual(
      expect.arrayContaining(created),
    );
    // Every run started ends, and ends well.
    const runs = [...seedRuns, ...answers.filter((_, i) => i % 4 === 2)].map((a) => a.body.id);
    const ends = await Promise.all(
      runs.map((id) => instanceWhere(api, id, (i) => FINAL.includes(String(i.status)), 60_000)),
    );
    expect(ends.filter((i) => i.status !== 'SUCCEEDED')).toEqual([]);
    u.proc.child.kill('SIGINT');
    expect(await u.proc.exited).toBe(0);
  }, 120_000);
});
