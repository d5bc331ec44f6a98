import type { DroverEvent } from '@drover/protocol';
import { routes } from '@drover/protocol';
import { Bus, subscribeEvents } from '@drover/transport';
import { createInbox, type NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../harness/drover-cluster.js';
import { useDatabase } from '../harness/fixtures.js';

// Monitoring over NATS: every process answers the NATS services protocol, and
// lifecycle events (workers joining, leaving, lost; instance states; progress)
// reach a plain subscriber.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
const events: DroverEvent[] = [];
const waiters = new Set<() => void>();

/** Resolves with the first event (seen so far, or to come) that matches. */
function eventLike(match: (e: DroverEvent) => boolean, timeoutMs = 30_000): Promise<DroverEvent> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = events.find(match);
      if (!found) return false;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no matching event in ${timeoutMs} ms; saw ${JSON.stringify(events)}`));
    }, timeoutMs);
    if (!check()) waiters.add(check);
  });
}

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  // The server's key: it also asks query_instance_status, which only servers may send.
  nc = await cluster.nats.connect('monitoring-test');
  subscribeEvents(
    nc,
    cluster.app.name,
    (e) => {
      events.push(e);
      for (const check of [...waiters]) check();
    },
    pino({ level: 'silent' }),
  );
  await nc.flush();
  await Promise.all(['mon-1', 'mon-2'].map((id) => cluster.startWorker(id)));
});
afterAll(async () => {
  await cluster?.stop();
  await nc?.close();
});

describe('monitoring', () => {
  it('answers $SRV.PING from the server and every worker', async () => {
    const inbox = createInbox();
    const seen = new Set<string>();
    const everyone = new Promise<void>((resolve) => {
      nc.subscribe(inbox, {
        callback: (_err, msg) => {
          const pong = msg.json<{ type: string; name: string; metadata: Record<string, string> }>();
          if (pong.type !== 'io.nats.micro.v1.ping_response') return;
          seen.add(pong.name === 'drover-worker' ? `worker:${pong.metadata.workerId}` : pong.name);
          if (seen.has('drover-server') && seen.has('worker:mon-1') && seen.has('worker:mon-2'))
            resolve();
        },
      });
    });
    nc.publish('$SRV.PING', '', { reply: inbox });
    await everyone;
    const status = await nc.request(`drover.${cluster.app.name}.worker.mon-1.status`, '', {
      timeout: 3_000,
    });
    expect(status.json()).toMatchObject({ workerId: 'mon-1', draining: false });
  });

  it('answers query_instance_status for a run its TaskTracker owns', async () => {
    const { app } = cluster;
    const run = await cluster.run({ processorName: 'forever' });
    const running = await waitForInstance(app, run.id, (i) => i.status === 'RUNNING');
    const bus = new Bus(nc, pino({ level: 'silent' }));
    const reply = await bus.ask(
      routes.tt.queryInstanceStatus,
      { app: app.name, workerId: running.workerId as string },
      { instanceId: run.id },
    );
    expect(reply).toMatchObject({
      instanceId: run.id,
      epoch: running.epoch,
      status: 'RUNNING',
    });
    await app.api.post(`/api/v1/apps/${app.name}/instances/${run.id}/stop`);
  });

  it('publishes worker, instance and progress events', async () => {
    await eventLike((e) => e.type === 'worker' && e.workerId === 'mon-1' && e.state === 'joined');
    const { app } = cluster;
    const { id } = await cluster.run({ processorName: 'echo' }, { params: { text: 'watched' } });
    await waitForInstance(app, id, (i) => i.status === 'SUCCEEDED', 30_000);
    await eventLike((e) => e.type === 'instance' && e.instanceId === id && e.status === 'RUNNING');
    const finished = await eventLike(
      (e) => e.type === 'instance' && e.instanceId === id && e.status === 'SUCCEEDED',
    );
    expect(finished).toMatchObject({ result: 'watched' });
    // Progress comes with a TaskTracker's reports: a map-reduce run reports at
    // its start; a short standalone run (like echo above) writes none.
    const mapped = await cluster.run(
      { processorName: 'noop-map', executeType: 'MAP_REDUCE' },
      { params: { count: 10 } },
    );
    await eventLike((e) => e.type === 'progress' && e.instanceId === mapped.id);

    cluster.workers.get('mon-2')?.child.kill('SIGTERM');
    await eventLike((e) => e.type === 'worker' && e.workerId === 'mon-2' && e.state === 'left');
    cluster.workers.get('mon-1')?.child.kill('SIGKILL');
    await eventLike((e) => e.type === 'worker' && e.workerId === 'mon-1' && e.state === 'lost');
  }, 60_000);
});
