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

/** The lines one handler logs for `fails`, each answering one request in turn. */
async function logOf(...fails: (() => never)[]): Promise<Line[]> {
  const lines: Line[] = [];
  const server = await nats.connect('server');
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const address = { app: nats.app, workerId: `w${handlers.length}` };
  let call = 0;
  const handler = () => (fails[call++] as () => never)();
  handlers.push(new Bus(server.nc, log).handle(routes.tt.stopInstance, address, handler));
  await server.nc.flush();
  for (const _ of fails)
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

  it('does not let a refusal hide a failure that follows it (each is rate-limited on its own)', async () => {
    const lines = await logOf(
      () => {
        throw new HandlerError('UNKNOWN_WORKER', 'not yet');
      },
      () => {
        throw new Error('a bug');
      },
    );
    expect(lines.map((l) => l.msg)).toEqual(['request refused', 'handler failed']);
  });

  it('logs a failure with its stack', async () => {
    const lines = await logOf(() => {
      throw new Error('a bug');
    });
    expect(lines).toEqual([expect.objectContaining({ msg: 'handler failed' })]);
    expect(lines[0]?.err?.stack).toContain('a bug');
  });
});
