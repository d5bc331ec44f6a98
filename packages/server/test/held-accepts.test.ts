import { describe, expect, it } from 'vitest';
import { HeldAccepts } from '../src/dispatch/held-accepts.js';

// A worker's accepts wait before they are written: a run that ended (or was
// written RUNNING) meanwhile at its epoch is dropped; anything else is
// written, one write per worker; the server stopping writes all at once.

type Write = { app: string; worker: string; items: string[] };

function held(delayMs: number) {
  const writes: Write[] = [];
  let wrote: () => void = () => undefined;
  const accepts = new HeldAccepts<string>(async (app, worker, items) => {
    writes.push({ app, worker, items });
    wrote();
  }, delayMs);
  const nextWrite = () => new Promise<void>((r) => (wrote = r));
  return { accepts, writes, nextWrite };
}

const runs = (...ids: string[]) => ids.map((id) => ({ instanceId: id, epoch: 1, item: id }));

describe('HeldAccepts', () => {
  it('writes what is still going after the delay, one write per worker; drops runs ended at their epoch', async () => {
    const { accepts, writes, nextWrite } = held(50);
    accepts.hold('a', 'w1', runs('1', '2', '3', '4'));
    accepts.hold('a', 'w2', runs('5'));
    accepts.changed('1', 1, 'SUCCEEDED');
    accepts.changed('2', 1, 'RUNNING'); // written RUNNING by a progress report
    accepts.changed('3', 2, 'SUCCEEDED'); // another epoch's end: this accept still stands
    accepts.changed('4', 1, 'WAITING_DISPATCH'); // handed back: written, its write finds it gone
    const written = nextWrite();
    expect(writes).toEqual([]);
    await written;
    await new Promise<void>((r) => setImmediate(r)); // the other worker's write, same turn
    expect(writes.map((w) => [w.worker, [...w.items].sort()]).sort()).toEqual([
      ['w1', ['3', '4']],
      ['w2', ['5']],
    ]);
    expect(accepts.size).toBe(0);
  });

  it('writes every held accept at once when closed', async () => {
    const { accepts, writes } = held(60_000);
    accepts.hold('a', 'w1', runs('1', '2'));
    await accepts.close();
    expect(writes).toEqual([{ app: 'a', worker: 'w1', items: ['1', '2'] }]);
    expect(accepts.size).toBe(0);
  });

  it('writes an accept held after it closed at once (a dispatch answered while the server stops)', async () => {
    const { accepts, writes } = held(60_000);
    await accepts.close();
    accepts.hold('a', 'w1', runs('7'));
    expect(writes).toEqual([{ app: 'a', worker: 'w1', items: ['7'] }]);
  });
});
