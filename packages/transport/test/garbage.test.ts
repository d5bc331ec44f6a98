import { Writable } from 'node:stream';
import { decode, ReplyEnvelope, routes } from '@drover/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import { Bus, type Handler } from '../src/index.js';

// Hostile bytes sent straight to a handler's subject: each must get an error
// reply, log at most once, and leave the handler serving.

const nats = useNats();
const warnings: string[] = [];
let handler: Handler;
let subject: string;
let served = 0;

function captureLogger() {
  const sink = new Writable({
    write(chunk, _enc, done) {
      const line = JSON.parse(String(chunk)) as { level: number; msg: string };
      if (line.level >= 40) warnings.push(line.msg);
      done();
    },
  });
  return pino({ level: 'warn' }, sink);
}

function nestedArrays(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth + 1).fill(0x91); // fixarray of one element
  bytes[depth] = 0x01;
  return bytes;
}

const garbage: Record<string, Uint8Array> = {
  empty: new Uint8Array(0),
  truncated: new Uint8Array([0x85, 0xaa, 0x69, 0x6e]),
  randomBytes: Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 256),
  notAMap: new Uint8Array([0x2a]),
  wrongFieldTypes: new Uint8Array([
    0x82,
    0xaa,
    ...Buffer.from('instanceId'),
    0x2a,
    0xa6,
    ...Buffer.from('reason'),
    0xc3,
  ]),
  protoKey: new Uint8Array([
    0x81,
    0xa9,
    ...Buffer.from('__proto__'),
    0x81,
    0xa6,
    ...Buffer.from('reason'),
    0xa1,
    0x78,
  ]),
  deepNesting: nestedArrays(10_000),
  hugeArrayHeader: new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]),
  hugeMapHeader: new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]),
  hugeStringHeader: new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
  unknownExtension: new Uint8Array([0xd4, 0x42, 0x00]),
  trailingBytes: new Uint8Array([0x80, 0x80]),
};

beforeAll(async () => {
  const serverBus = await nats.connect('server');
  const logged = new Bus(serverBus.nc, captureLogger());
  const address = { app: nats.app, workerId: 'g1' };
  handler = logged.handle(
    routes.tt.stopInstance,
    address,
    () => {
      served++;
      return { stopped: true };
    },
    { warnIntervalMs: 60_000 },
  );
  subject = handler.subject;
  await serverBus.nc.flush();
});
afterAll(() => handler.stop());

async function sendRaw(bytes: Uint8Array) {
  const msg = await nats.nc.request(subject, bytes, { timeout: 5_000 });
  return ReplyEnvelope.parse(decode(msg.data));
}

describe('a handler fed garbage', () => {
  it.each(Object.entries(garbage))(
    'answers %s with INVALID_PAYLOAD and keeps serving',
    async (_name, bytes) => {
      const before = served;
      const reply = await sendRaw(bytes);
      expect(reply.ok).toBe(false);
      expect(reply.ok === false && reply.error.code).toBe('INVALID_PAYLOAD');
      expect(served).toBe(before);
      const ok = await nats.bus.ask(
        routes.tt.stopInstance,
        { app: nats.app, workerId: 'g1' },
        {
          instanceId: '1',
          reason: 'still alive?',
        },
      );
      expect(ok).toEqual({ stopped: true });
      expect(served).toBe(before + 1);
    },
  );

  it('names the wrong fields', async () => {
    const reply = await sendRaw(garbage.wrongFieldTypes as Uint8Array);
    expect(reply.ok === false && reply.error.issues?.map((i) => i.path).sort()).toEqual([
      'instanceId',
      'reason',
    ]);
  });

  it('pollutes no prototype', () => {
    expect(({} as Record<string, unknown>).reason).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('reason');
  });

  it('logs a flood of garbage once, and answers every message', async () => {
    const replies = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) =>
        sendRaw(garbage[i % 2 ? 'truncated' : 'deepNesting'] as Uint8Array),
      ),
    );
    expect(replies.every((r) => !r.ok)).toBe(true);
    // Every bad message so far fell in one limiter window (60 s): one warning in all.
    expect(warnings).toEqual(['bad msgpack']);
  });

  it('keeps memory bounded under a garbage flood', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'tests run with --expose-gc').toBeTypeOf('function');
    const flood = async () => {
      for (let round = 0; round < 10; round++) {
        await Promise.all(
          Array.from({ length: 500 }, () => sendRaw(garbage.hugeArrayHeader as Uint8Array)),
        );
      }
    };
    await flood();
    gc?.();
    const baseline = process.memoryUsage().heapUsed;
    await flood();
    gc?.();
    const growth = process.memoryUsage().heapUsed - baseline;
    // 5,000 more bad messages must not leave per-message state behind.
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  });
});
