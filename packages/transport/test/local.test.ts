import { HandlerError, InvalidPayloadError, RemoteError, routes } from '@drover/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler } from '../src/index.js';

// A handler in the same process as its caller is answered without NATS, with
// the same validation, replies and errors as over the wire.

const nats = useNats();
let remote: Bus;
let local: Bus;
const handlers: Handler[] = [];
const address = () => ({ app: nats.app, workerId: 'w1' });

beforeAll(async () => {
  remote = await nats.connect('remote');
  local = await nats.connect('local');
});
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.stop()));
});

/** The same route served by this process and by another: who answers tells the path taken. */
async function serveTwice(): Promise<{ remoteCalls: () => number }> {
  let remoteCalls = 0;
  handlers.push(
    remote.handle(routes.tt.stopInstance, address(), () => {
      remoteCalls++;
      return { stopped: false };
    }),
    local.handle(routes.tt.stopInstance, address(), (req) => {
      if (req.reason === 'refuse')
        throw new HandlerError('NOT_OWNER', 'not mine', { retryable: true });
      return { stopped: true };
    }),
  );
  await Promise.all([remote.nc.flush(), local.nc.flush()]);
  return { remoteCalls: () => remoteCalls };
}

describe('in-process delivery', () => {
  it('answers ask, reliableAsk and tell from the local handler, never over NATS', async () => {
    const { remoteCalls } = await serveTwice();
    for (let i = 0; i < 20; i++) {
      expect(
        await local.ask(routes.tt.stopInstance, address(), { instanceId: '1', reason: 'x' }),
      ).toEqual({ stopped: true });
    }
    expect(
      await local.reliableAsk(
        routes.tt.stopInstance,
        address(),
        { instanceId: '1', reason: 'x' },
        { deadlineMs: 1_000 },
      ),
    ).toEqual({ stopped: true });
    // From another process, the same subject is answered by one of the two.
    const viaNats = await remote.ask(routes.tt.stopInstance, address(), {
      instanceId: '1',
      reason: 'x',
    });
    expect(viaNats).toEqual({ stopped: false });
    expect(remoteCalls()).toBe(1);
  });

  it('validates requests and passes handler errors like the wire does', async () => {
    await serveTwice();
    const invalid = await local
      .ask(routes.tt.stopInstance, address(), { instanceId: 'not a number', reason: 'x' })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidPayloadError);
    expect((invalid as InvalidPayloadError).issues[0]?.path).toBe('instanceId');
    const refused = await local
      .ask(routes.tt.stopInstance, address(), { instanceId: '1', reason: 'refuse' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect(refused).toMatchObject({ code: 'NOT_OWNER', retryable: true });
  });

  it('lets timers and I/O run between in-process messages, like real ones', async () => {
    await serveTwice();
    let timerFiredAt: number | undefined;
    let sent = 0;
    setTimeout(() => {
      timerFiredAt = sent;
    }, 0);
    // A chain of asks that never waits on I/O: a TaskTracker and its local
    // ProcessorTracker passing tasks and results back and forth.
    for (; sent < 2_000; sent++) {
      await local.ask(routes.tt.stopInstance, address(), { instanceId: '1', reason: 'x' });
    }
    expect(timerFiredAt).toBeDefined();
    expect(timerFiredAt).toBeLessThan(2_000);
  });

  it('goes over NATS again once the local handler stops', async () => {
    const { remoteCalls } = await serveTwice();
    await handlers[1]?.stop();
    const reply = await local.ask(routes.tt.stopInstance, address(), {
      instanceId: '1',
      reason: 'x',
    });
    expect(reply).toEqual({ stopped: false });
    expect(remoteCalls()).toBe(1);
  });
});
