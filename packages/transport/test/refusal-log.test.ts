import { HandlerError, routes } from '@drover/protocol';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { useNats } from '../../../test/harness/fixtures.js';
import { Bus, type Handler } from '../src/index.js';

// A handler's refusal (HandlerError: an unknown worker, a stale epoch) is an
// answer it chose, seen at every restart: one log line, no stack. A handler
// that fails is a bug: its stack is logged.

const nats = useNats();
const handlers: Handler[] = [];
afterAll(() => Promise.all(handlers.map((h) => h.stop())));

type Line = {
  level: number;
  msg: string;
  code?: string;
  reason?: string;
  err?: { stack?: string };
};

async function logOf(fail: () => never): Promise<Line[]> {
  const lines: Line[] = [];
  const server = await nats.connect('server');
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const address = { app: nats.app, workerId: `w${handlers.length}` };
  handlers.push(new Bus(server.nc, log).handle(routes.tt.stopInstance, address, fail));
  await server.nc.flush();
  await expect(
    nats.bus.ask(routes.tt.stopInstance, address, { instanceId: '1', reason: 'test' }),
  ).rejects.toThrow();
  return lines;
}

describe('what a handler logs when it does not answer with data', () => {
  it('logs a refusal as one line naming its code and reason, with no stack', async () => {
    const lines = await logOf(() => {
      throw new HandlerError('UNKNOWN_WORKER', 'worker w1 has not sent a valid heartbeat yet');
    });
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'request refused',
        code: 'UNKNOWN_WORKER',
        reason: 'worker w1 has not sent a valid heartbeat yet',
      }),
    ]);
    expect(lines[0]?.err).toBeUndefined();
  });

  it('logs a failure with its stack', async () => {
    const lines = await logOf(() => {
      throw new Error('a bug');
    });
    expect(lines).toEqual([expect.objectContaining({ msg: 'handler failed' })]);
    expect(lines[0]?.err?.stack).toContain('a bug');
  });
});
