import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { routes } from '@drover/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, useNats } from '../../../test/harness/fixtures.js';
import type { Bus, Handler } from '../src/index.js';

const nats = useNats();
let asker: Bus;
let server: Bus;
const handlers: Handler[] = [];
const address = () => ({ app: nats.app, workerId: 'w1' });
const request = { instanceId: '1', reason: 'x' };

beforeAll(async () => {
  asker = await nats.connect('asker');
  server = await nats.connect('server');
});
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.stop()));
});

describe('afterReply', () => {
  it('runs only once the reply is written: a handler that ends its process there still answers', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=drover-source',
        new URL('./fixtures/exit-after-reply.ts', import.meta.url).pathname,
        natsUrl(),
        nats.app,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) if (line === 'ready') break;
    await expect(asker.ask(routes.tt.stopInstance, address(), request)).resolves.toEqual({
      stopped: true,
    });
    expect((await exited)[0]).toBe(0);
  });

  it('runs when the reply cannot be encoded, and the asker hears why', async () => {
    const ran: string[] = [];
    handlers.push(
      server.handle(routes.tt.stopInstance, address(), (_req, ctx) => {
        ctx.afterReply(() => ran.push('after'));
        // msgpack cannot encode an integer past 64 bits: the reply never leaves.
        return { stopped: 2n ** 70n } as unknown as { stopped: boolean };
      }),
    );
    await server.nc.flush();
    await expect(asker.ask(routes.tt.stopInstance, address(), request)).rejects.toThrow(
      /reply not encodable/,
    );
    expect(ran).toEqual(['after']);
  });

  it('runs after the reply, in order, even when the handler fails; in process too', async () => {
    const order: string[] = [];
    handlers.push(
      server.handle(routes.tt.stopInstance, address(), (req, ctx) => {
        ctx.afterReply(() => order.push(`after ${req.reason} 1`));
        ctx.afterReply(() => order.push(`after ${req.reason} 2`));
        if (req.reason === 'fail') throw new Error('failed');
        return { stopped: true };
      }),
    );
    await server.nc.flush();
    const thenAnswered = (reason: string) => () => order.push(`answered ${reason}`);
    // Over NATS, the asker hears the reply after the callbacks ran (a round trip later).
    await asker.ask(routes.tt.stopInstance, address(), { ...request, reason: 'a' });
    order.push('answered a');
    await expect(
      asker.ask(routes.tt.stopInstance, address(), { ...request, reason: 'fail' }),
    ).rejects.toThrow('failed');
    order.push('answered fail');
    // In process (the handler's own bus): the callbacks run before the asker resumes.
    await server
      .ask(routes.tt.stopInstance, address(), { ...request, reason: 'b' })
      .then(thenAnswered('b'));
    expect(order).toEqual([
      'after a 1',
      'after a 2',
      'answered a',
      'after fail 1',
      'after fail 2',
      'answered fail',
      'after b 1',
      'after b 2',
      'answered b',
    ]);
  });
});
