import {
  HandlerError,
  InvalidPayloadError,
  NoRespondersError,
  PayloadTooLargeError,
  RemoteError,
  routes,
  TimeoutError,
} from '@drover/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler } from '../src/index.js';

const nats = useNats();
let server: Bus;
const handlers: Handler[] = [];
const worker = (workerId: string) => ({ app: nats.app, workerId });

beforeAll(async () => {
  server = await nats.connect('server');
});
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.stop()));
});

describe('ask', () => {
  it('round-trips a validated request and reply', async () => {
    handlers.push(
      server.handle(routes.tt.stopInstance, worker('w1'), (req) => ({
        stopped: req.reason === 'user asked',
      })),
    );
    await server.nc.flush();
    const reply = await nats.bus.ask(routes.tt.stopInstance, worker('w1'), {
      instanceId: '7',
      reason: 'user asked',
    });
    expect(reply).toEqual({ stopped: true });
  });

  it('times out when nobody answers in time', async () => {
    // A raw subscriber that never replies: the subject has a responder, so only the timeout can end it.
    const silent = server.nc.subscribe(`drover.${nats.app}.worker.w2.tt.stop_instance`);
    await server.nc.flush();
    const err = await nats.bus
      .ask(
        routes.tt.stopInstance,
        worker('w2'),
        { instanceId: '1', reason: 'x' },
        { timeoutMs: 200 },
      )
      .catch((e: unknown) => e);
    silent.unsubscribe();
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('TIMEOUT');
  });

  it('reports no responders as its own error, not as a timeout', async () => {
    // With a 20 s timeout, only NATS's immediate 503 can produce NoRespondersError.
    const err = await nats.bus
      .ask(
        routes.tt.stopInstance,
        worker('nobody'),
        { instanceId: '1', reason: 'x' },
        { timeoutMs: 20_000 },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRespondersError);
    expect((err as NoRespondersError).retryable).toBe(true);
  });

  it('returns the handler’s error code and message', async () => {
    handlers.push(
      server.handle(routes.tt.stopInstance, worker('w3'), () => {
        throw new HandlerError('STALE_EPOCH', 'epoch 3 is older than 4');
      }),
    );
    await server.nc.flush();
    const err = await nats.bus
      .ask(routes.tt.stopInstance, worker('w3'), { instanceId: '1', reason: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'STALE_EPOCH', message: 'epoch 3 is older than 4' });
  });

  it('answers a request that fails its schema with the field path', async () => {
    let called = 0;
    handlers.push(
      server.handle(routes.tt.mapTask, worker('w4'), () => {
        called++;
        return { stored: 0, duplicate: false };
      }),
    );
    await server.nc.flush();
    const bad = {
      instanceId: '1',
      batchId: 'b1',
      parentTaskId: 'root',
      taskName: 'square',
      tasks: [
        { taskId: 'a', payload: 1 },
        { taskId: 42, payload: 2 },
      ],
    } as unknown as Parameters<typeof nats.bus.ask<typeof routes.tt.mapTask>>[2];
    const err = await nats.bus.ask(routes.tt.mapTask, worker('w4'), bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPayloadError);
    expect((err as InvalidPayloadError).where).toBe('request');
    expect((err as InvalidPayloadError).issues.map((i) => i.path)).toEqual(['tasks.1.taskId']);
    expect(called).toBe(0);
  });

  it('rejects a reply that fails its schema, naming the field', async () => {
    handlers.push(
      server.handle(
        routes.tt.stopInstance,
        worker('w5'),
        () => ({ stopped: 'yes' }) as unknown as { stopped: boolean },
      ),
    );
    await server.nc.flush();
    const err = await nats.bus
      .ask(routes.tt.stopInstance, worker('w5'), { instanceId: '1', reason: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPayloadError);
    expect(err).toMatchObject({ where: 'reply', issues: [{ path: 'stopped' }] });
  });

  it('refuses a payload over max_payload before publishing it', async () => {
    const seen: number[] = [];
    handlers.push(
      server.handle(routes.tt.mapTask, worker('w6'), (req) => {
        seen.push(req.tasks.length);
        return { stored: req.tasks.length, duplicate: false };
      }),
    );
    await server.nc.flush();
    const huge = 'x'.repeat(nats.bus.maxPayload);
    const err = await nats.bus
      .ask(routes.tt.mapTask, worker('w6'), {
        instanceId: '1',
        batchId: 'big',
        parentTaskId: 'root',
        taskName: 't',
        tasks: [{ taskId: 'a', payload: huge }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as PayloadTooLargeError).size).toBeGreaterThan(nats.bus.maxPayload - 1024);
    // The connection is still healthy and the big message never reached the handler.
    const small = await nats.bus.ask(routes.tt.mapTask, worker('w6'), {
      instanceId: '1',
      batchId: 'small',
      parentTaskId: 'root',
      taskName: 't',
      tasks: [
        { taskId: 'a', payload: 1 },
        { taskId: 'b', payload: 2 },
      ],
    });
    expect(small.stored).toBe(2);
    expect(seen).toEqual([2]);
  });

  it('answers with PAYLOAD_TOO_LARGE when the reply would not fit', async () => {
    handlers.push(
      server.handle(routes.tt.runJob, worker('w7'), () => ({
        accepted: false,
        reason: 'y'.repeat(server.maxPayload + 10),
      })),
    );
    await server.nc.flush();
    const err = await nats.bus
      .ask(routes.tt.runJob, worker('w7'), {
        instanceId: '1',
        epoch: 1,
        jobId: '2',
        executeType: 'STANDALONE',
        processorName: 'p',
        jobParams: null,
        instanceParams: null,
        timeoutMs: 1000,
        taskRetry: {
          maximumAttempts: 1,
          initialIntervalMs: 0,
          backoffCoefficient: 1,
          maximumIntervalMs: 0,
        },
        workers: [],
        logLevel: 'info',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('stops serving after stop(), so callers see no responders', async () => {
    const h = server.handle(routes.tt.stopInstance, worker('w8'), () => ({ stopped: true }));
    await server.nc.flush();
    await nats.bus.ask(routes.tt.stopInstance, worker('w8'), { instanceId: '1', reason: 'x' });
    await h.stop();
    await server.nc.flush();
    const err = await nats.bus
      .ask(routes.tt.stopInstance, worker('w8'), { instanceId: '1', reason: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRespondersError);
  });
});
