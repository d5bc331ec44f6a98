import {
  encode,
  HandlerError,
  Header,
  NoRespondersError,
  RemoteError,
  routes,
  TimeoutError,
} from '@drover/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler, HandlerContext } from '../src/index.js';

const nats = useNats();
let server: Bus;
const handlers: Handler[] = [];
const worker = (workerId: string) => ({ app: nats.app, workerId });
const batch = (batchId: string) => ({
  instanceId: '9',
  batchId,
  parentTaskId: 'root',
  taskName: 'square',
  tasks: [{ taskId: `${batchId}-0`, payload: 3 }],
});

beforeAll(async () => {
  server = await nats.connect('server');
});
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.stop()));
});

describe('reliableAsk', () => {
  it('retries timeouts with the same idempotency key on every try', async () => {
    const seen: HandlerContext['meta'][] = [];
    // Replies only from the third try on; earlier tries are left to time out.
    const sub = server.nc.subscribe(`drover.${nats.app}.worker.r1.tt.map_task`);
    const served = (async () => {
      for await (const m of sub) {
        const meta = {
          idempotencyKey: m.headers?.get(Header.IDEMPOTENCY_KEY),
          attempt: Number(m.headers?.get(Header.ATTEMPT)),
        };
        seen.push(meta);
        if (seen.length >= 3) {
          m.respond(encode({ ok: true, data: { stored: 1, duplicate: false } }));
          sub.unsubscribe();
        }
      }
    })();
    await server.nc.flush();
    const reply = await nats.bus.reliableAsk(routes.tt.mapTask, worker('r1'), batch('b1'), {
      deadlineMs: 20_000,
      timeoutMs: 150,
      initialIntervalMs: 10,
    });
    await served;
    expect(reply).toEqual({ stored: 1, duplicate: false });
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    const keys = new Set(seen.map((s) => s.idempotencyKey));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('uses the caller’s idempotency key when given', async () => {
    const keys: (string | undefined)[] = [];
    handlers.push(
      server.handle(routes.tt.mapTask, worker('r2'), (req, ctx) => {
        keys.push(ctx.meta.idempotencyKey);
        return { stored: req.tasks.length, duplicate: false };
      }),
    );
    await server.nc.flush();
    await nats.bus.reliableAsk(routes.tt.mapTask, worker('r2'), batch('b2'), {
      deadlineMs: 5_000,
      idempotencyKey: 'batch-b2',
    });
    expect(keys).toEqual(['batch-b2']);
  });

  it('retries no-responders until a handler appears', async () => {
    let calls = 0;
    const reply = await nats.bus.reliableAsk(routes.tt.mapTask, worker('r3'), batch('b3'), {
      deadlineMs: 20_000,
      initialIntervalMs: 10,
      onRetry: (err, attempt) => {
        expect(err).toBeInstanceOf(NoRespondersError);
        // The handler comes up after the first refusal.
        if (attempt === 1) {
          handlers.push(
            server.handle(routes.tt.mapTask, worker('r3'), (req) => {
              calls++;
              return { stored: req.tasks.length, duplicate: false };
            }),
          );
        }
      },
    });
    expect(reply.stored).toBe(1);
    expect(calls).toBe(1);
  });

  it('gives up at the deadline with the last error', async () => {
    const err = await nats.bus
      .reliableAsk(routes.tt.mapTask, worker('never'), batch('b4'), {
        deadlineMs: 300,
        initialIntervalMs: 10,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRespondersError);
  });

  it('gives up at the deadline when tries time out', async () => {
    const silent = server.nc.subscribe(`drover.${nats.app}.worker.r5.tt.map_task`);
    await server.nc.flush();
    const err = await nats.bus
      .reliableAsk(routes.tt.mapTask, worker('r5'), batch('b5'), {
        deadlineMs: 400,
        timeoutMs: 100,
        initialIntervalMs: 10,
      })
      .catch((e: unknown) => e);
    silent.unsubscribe();
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('does not retry an error the handler did not mark retryable', async () => {
    let calls = 0;
    handlers.push(
      server.handle(routes.tt.mapTask, worker('r6'), () => {
        calls++;
        throw new HandlerError('UNKNOWN_INSTANCE', 'instance 9 is not tracked here');
      }),
    );
    await server.nc.flush();
    const err = await nats.bus
      .reliableAsk(routes.tt.mapTask, worker('r6'), batch('b6'), { deadlineMs: 5_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('UNKNOWN_INSTANCE');
    expect(calls).toBe(1);
  });

  it('retries an error the handler marked retryable', async () => {
    let calls = 0;
    handlers.push(
      server.handle(routes.tt.mapTask, worker('r7'), (req) => {
        calls++;
        if (calls < 3) throw new HandlerError('BUSY', 'store busy', { retryable: true });
        return { stored: req.tasks.length, duplicate: false };
      }),
    );
    await server.nc.flush();
    const reply = await nats.bus.reliableAsk(routes.tt.mapTask, worker('r7'), batch('b7'), {
      deadlineMs: 10_000,
      initialIntervalMs: 5,
    });
    expect(reply.stored).toBe(1);
    expect(calls).toBe(3);
  });
});
