import { workerStatusSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { MAX_PROCESSOR_TRACKERS } from '../../../packages/worker/src/runtime/worker.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { startFlood } from '../../harness/flood.js';
import { rssMb } from '../../harness/memory-trend.js';
import { errorsByEndpoint, serviceStats } from '../../harness/service-stats.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// A hostile client publishes forged and garbage messages at ~10k msg/s for
// 10 s at the server's report/heartbeat/log subjects and at a worker's
// TaskTracker/ProcessorTracker subjects. Real runs still succeed, the server's
// memory stays under the documented bound, and `$SRV.STATS` counts the
// rejected messages as endpoint errors.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
const WORKERS = ['flood-1', 'flood-2'];
// docs/guarantees.md: the server's RSS under a flood of forged messages.
const SERVER_RSS_BOUND_MB = 300;
const FINAL = ['SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'];
const FLOOD = { perSecond: 10_000, durationMs: 10_000 };

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: WORKERS });
  // The strongest client there is: a server's key may publish on every subject.
  nc = await cluster.nats.connect('flood');
});
afterAll(async () => {
  await cluster?.stop();
  await nc?.close();
});

describe('a flood of forged and garbage messages', () => {
  it('leaves real runs succeeding, the server bounded, and counts the errors', async () => {
    const app = cluster.app.name;
    const before = {
      server: errorsByEndpoint(await serviceStats(nc, 'drover-server', 1)),
      workers: errorsByEndpoint(await serviceStats(nc, 'drover-worker', WORKERS.length)),
    };
    const serverPid = cluster.server.child.pid;
    const floodedPid = cluster.workers.get(WORKERS[0] as string)?.child.pid;
    const rss: number[] = [];
    const workerRss: number[] = [];
    const sampler = setInterval(() => {
      rss.push(rssMb(serverPid));
      workerRss.push(rssMb(floodedPid));
    }, 250);
    const flood = startFlood(nc, { app, workerId: WORKERS[0] as string }, FLOOD);
    try {
      // Real runs, started while the flood goes on: one on a worker, one across both.
      const echo = await cluster.run({ processorName: 'echo' }, { params: { text: 'flooded' } });
      const leaves = await cluster.run(
        { processorName: 'leaves', executeType: 'MAP_REDUCE' },
        { params: { count: 40, ms: 20 } },
      );
      const final = (i: { status: string }) => FINAL.includes(i.status);
      const [echoDone, leavesDone] = await Promise.all([
        waitForInstance(cluster.app, echo.id, final, 60_000),
        waitForInstance(cluster.app, leaves.id, final, 60_000),
      ]);
      expect(echoDone).toMatchObject({ status: 'SUCCEEDED', result: 'flooded' });
      expect(leavesDone.status).toBe('SUCCEEDED');
      await flood.done;
    } finally {
      flood.stop();
      clearInterval(sampler);
    }
    await nc.flush();
    console.log(
      `flood: ${flood.sent} messages; RSS MiB max: server ${Math.max(...rss).toFixed(0)}, flooded worker ${Math.max(...workerRss).toFixed(0)}`,
    );
    expect(flood.sent).toBeGreaterThan(FLOOD.perSecond); // it did flood
    expect(Math.max(...rss)).toBeLessThan(SERVER_RSS_BOUND_MB);

    const after = {
      server: errorsByEndpoint(await serviceStats(nc, 'drover-server', 1)),
      workers: errorsByEndpoint(await serviceStats(nc, 'drover-worker', WORKERS.length)),
    };
    for (const name of ['worker_heartbeat', 'report_instance_status', 'report_log'])
      expect(after.server[name] ?? 0, `server ${name}`).toBeGreaterThan(before.server[name] ?? 0);
    for (const name of ['map_task', 'report_task_status', 'pt_heartbeat', 'start_tasks'])
      expect(after.workers[name] ?? 0, `worker ${name}`).toBeGreaterThan(before.workers[name] ?? 0);

    // Forged start_tasks name thousands of made-up runs: the worker holds a bounded number of ProcessorTrackers.
    const status = await nc.request(workerStatusSubject(app, WORKERS[0] as string), undefined, {
      timeout: 5_000,
    });
    const { processorTrackers } = status.json<{ processorTrackers: number }>();
    expect(flood.sent / 14).toBeGreaterThan(MAX_PROCESSOR_TRACKERS); // forged start_tasks sent
    expect(processorTrackers).toBeLessThanOrEqual(MAX_PROCESSOR_TRACKERS);

    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 180_000);
});
