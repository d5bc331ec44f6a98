import { decode, routeSubject, routes } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';

// run_jobs goes compact (each job's fields once) only to a worker whose
// heartbeat says `compactRuns`; a worker older than that form gets whole runs.

const s = useDispatchSetup();

describe('run_jobs to a worker without compactRuns', () => {
  it('carries whole runs, each accepted as run_job would be', async () => {
    const w = await s.worker({ processors: ['whole'], freeSlots: 10, runJobs: true });
    const job = await s.createJob({ processorName: 'whole' });
    const forms: string[][] = [];
    const subject = routeSubject(routes.tt.runJobs, {
      app: s.app.name,
      workerId: w.options.workerId,
    });
    // A second subscriber on the subject sees every batch the worker is sent.
    const seen = s.nats.nc.subscribe(subject, {
      callback: (_err, msg) => {
        forms.push(Object.keys(decode(msg.data) as object).sort());
      },
    });
    await s.nats.nc.flush();
    try {
      const res = await s.app.api.post(`/api/v1/apps/${s.app.name}/jobs/${job}/runs`, {
        runs: [{ params: { n: 1 } }, { params: { n: 2 } }, { params: { n: 3 } }],
      });
      expect(res.status).toBe(201);
      await w.until(() => w.runs.length === 3);
      // Its PONG comes after every batch the server routed to this connection before.
      await s.nats.nc.flush();
      expect(w.runs.map((r) => r.instanceParams)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      expect(forms.length).toBeGreaterThan(0);
      for (const keys of forms) {
        expect(keys).toContain('runs');
        expect(keys).not.toContain('compact');
        expect(keys).not.toContain('jobs');
      }
    } finally {
      seen.unsubscribe();
    }
  });
});
