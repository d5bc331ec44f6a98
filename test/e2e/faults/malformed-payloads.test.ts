import { readFileSync } from 'node:fs';
import { allRoutes, decode, encode, ReplyEnvelope, routeSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Malformed, mistyped and oversized payloads sent to every subject of a live
// server and worker: each ask gets a clear error, the processes stay up and
// keep working, and their memory stays bounded.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
const WORKER = 'bad-1';

function rssMb(pid: number | undefined): number {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1];
  return Number(kb) / 1024;
}

function acceptable(schema: { safeParse(v: unknown): { success: boolean } }, body: Uint8Array) {
  try {
    return schema.safeParse(decode(body)).success;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  cluster = await startDroverCluster(db.url);
  await cluster.startWorker(WORKER);
});
afterAll(async () => {
  await cluster.stop();
  await nc.close();
});

describe('malformed and oversized payloads on every subject', () => {
  it('answers each with a clear error and keeps every process up and bounded', async () => {
    const app = cluster.app.name;
    const bodies = [
      new Uint8Array([0xc1, 0xff, 0x00]), // not msgpack
      encode({ instanceId: 'DROP TABLE', epoch: -1, tasks: 'x'.repeat(100) }), // wrong shapes
      encode('just a string'),
      new Uint8Array(nc.info?.max_payload ? nc.info.max_payload - 1_024 : 1_000_000).fill(0x90), // near max, garbage
    ];
    const rssBefore = {
      server: rssMb(cluster.server.child.pid),
      worker: rssMb(cluster.workers.get(WORKER)?.child.pid),
    };
    for (let round = 0; round < 20; round++) {
      for (const route of allRoutes) {
        const subject = routeSubject(route, { app, workerId: WORKER });
        for (const body of bodies) {
          if (route.pattern === 'tell') {
            nc.publish(subject, body);
            continue;
          }
          const reply = await nc.request(subject, body, { timeout: 5_000 });
          const envelope = ReplyEnvelope.parse(decode(reply.data));
          // Only what the route's schema accepts may pass (an empty request ignores extra fields).
          if (!acceptable(route.request, body)) {
            expect(envelope.ok, `${subject} accepted garbage`).toBe(false);
            if (!envelope.ok) expect(envelope.error.code).toBe('INVALID_PAYLOAD');
          }
        }
      }
    }
    await nc.flush();

    // Still working: a real run goes through the same server and worker.
    const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'still here' } });
    const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
    expect(done.result).toBe('still here');

    // Hundreds of rejected messages, about 80 MB of them, leave no lasting weight.
    expect(rssMb(cluster.server.child.pid) - rssBefore.server).toBeLessThan(150);
    expect(rssMb(cluster.workers.get(WORKER)?.child.pid) - rssBefore.worker).toBeLessThan(150);
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
