import { routeSubject, routes, serverStatusSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Any client that can publish on an app's heartbeat subject could replay a
// worker's heartbeats. After `kill -9`, replaying the dead worker's captured
// heartbeats must not make it look alive again (it would be given runs it
// can never run): the server takes a heartbeat only with a seq newer than the
// last one of its incarnation, ignores and counts the rest.

const db = useDatabase();
let cluster: DroverCluster;
const nats = {} as { nc: NatsConnection };

beforeAll(async () => {
  cluster = await startDroverCluster(db.url, { workers: ['stale-1'] });
  // Capturing heartbeats takes reading the servers' subjects: a server's key.
  nats.nc = await cluster.nats.connect('replayer');
});
afterAll(async () => {
  await nats.nc?.close();
  await cluster?.stop();
});

async function ignoredStale(serverId: string): Promise<number> {
  const reply = await nats.nc.request(serverStatusSubject(serverId), '', { timeout: 3_000 });
  return (reply.json() as { heartbeatsIgnored: { stale: number } }).heartbeatsIgnored.stale;
}

describe('a replayed heartbeat of a kill -9ed worker', () => {
  it('does not bring the worker back, nor get it runs', async () => {
    const { app } = cluster;
    const serverId = cluster.server.find(/"serverId":"([^"]+)"/) as string;
    const subject = routeSubject(routes.server.workerHeartbeat, { app: app.name });
    const beats: Uint8Array[] = [];
    let captured: () => void = () => undefined;
    const threeBeats = new Promise<void>((resolve) => {
      captured = resolve;
    });
    const sub = nats.nc.subscribe(subject, {
      callback: (_err, msg) => {
        beats.push(msg.data);
        if (beats.length === 3) captured();
      },
    });
    await threeBeats;
    sub.unsubscribe();

    const victim = cluster.workers.get('stale-1');
    victim?.child.kill('SIGKILL');
    await victim?.exited;
    await cluster.untilWorkersAlive(0);

    const before = await ignoredStale(serverId);
    for (const beat of beats) nats.nc.publish(subject, beat);
    await nats.nc.flush();
    await vi.waitFor(async () => expect(await ignoredStale(serverId)).toBe(before + beats.length), {
      timeout: 5_000,
    });
    const listed = await app.api.get(`/api/v1/apps/${app.name}/workers`);
    expect(listed.body.workers).toMatchObject([{ workerId: 'stale-1', alive: false }]);

    // No run goes to it: the run waits for a live worker, and the next one runs it.
    const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'after' } });
    const waiting = await waitForInstance(app, run.id, (i) => i.status === 'WAITING_WORKER');
    expect(waiting.reason).toBe('no worker of this app is alive');
    await cluster.startWorker('stale-2');
    const done = await waitForInstance(app, run.id, (i) => i.status === 'SUCCEEDED', 30_000);
    expect(done).toMatchObject({ result: 'after', workerId: 'stale-2' });

    expectSurvivorsAlive(cluster, ['stale-1']);
    await expectSettled(db.url);
  }, 90_000);
});
