import { allRoutes, decode, encode, ReplyEnvelope, routeSubject } from '@drover/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstance } from '../../../packages/server/test/support/server-fixture.js';
import { type DroverCluster, startDroverCluster } from '../../harness/drover-cluster.js';
import { useDatabase } from '../../harness/fixtures.js';
import { rssMb, sustainedGrowth } from '../../harness/memory-trend.js';
import { expectSettled, expectSurvivorsAlive } from './checks.js';

// Malformed, mistyped and oversized payloads sent to every subject of a live
// server and worker: each ask gets a clear error, the processes stay up and
// keep working, and their memory stays bounded.

const db = useDatabase();
let cluster: DroverCluster;
let nc: NatsConnection;
const WORKER = 'bad-1';

// Rounds before memory is sampled (the heap settles), then rounds sampled.
const WARM_UP_ROUNDS = 8;
const SAMPLED_ROUNDS = 24;
// A process keeping what it rejects grows by what it receives; the bound is a
// quarter of that, over each half of the sampled rounds.
const LEAK_FRACTION = 0.25;

function acceptable(schema: { safeParse(v: unknown): { success: boolean } }, body: Uint8Array) {
  try {
    return schema.safeParse(decode(body)).success;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  cluster = await startDroverCluster(db.url);
  // With the server's key: the worst a client allowed everything can send.
  nc = await cluster.nats.connect('malformed-sender');
  await cluster.startWorker(WORKER);
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
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
    const pids = {
      server: cluster.server.child.pid,
      worker: cluster.workers.get(WORKER)?.child.pid,
    };
    const samples = { server: [] as number[], worker: [] as number[] };
    const mbPerRound = { server: 0, worker: 0 };
    for (const route of allRoutes) {
      const bytes = bodies.reduce((sum, b) => sum + b.byteLength, 0);
      mbPerRound[route.actor === 'server' ? 'server' : 'worker'] += bytes / 2 ** 20;
    }
    for (let round = 0; round < WARM_UP_ROUNDS + SAMPLED_ROUNDS; round++) {
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
      await nc.flush();
      if (round < WARM_UP_ROUNDS) continue;
      samples.server.push(rssMb(pids.server));
      samples.worker.push(rssMb(pids.worker));
    }

    // Still working: a real run goes through the same server and worker.
    const run = await cluster.run({ processorName: 'echo' }, { params: { text: 'still here' } });
    const done = await waitForInstance(cluster.app, run.id, (i) => i.status === 'SUCCEEDED');
    expect(done.result).toBe('still here');

    // Thousands of rejected messages, hundreds of MiB of them, leave no lasting
    // weight: after warm-up, memory does not keep growing with what comes in.
    const halfRounds = SAMPLED_ROUNDS / 2;
    for (const proc of ['server', 'worker'] as const) {
      const bound = LEAK_FRACTION * mbPerRound[proc] * halfRounds;
      expect(sustainedGrowth(samples[proc]), `${proc} RSS ${samples[proc].join(' ')}`).toBeLessThan(
        bound,
      );
    }
    await expectSettled(db.url);
    expectSurvivorsAlive(cluster);
  }, 120_000);
});
