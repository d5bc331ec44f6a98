import { routes } from '@drover/protocol';
import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';

const s = useDispatchSetup();

describe('online logs', () => {
  it('stores shipped batches once and returns lines in order, paged', async () => {
    const w = await s.worker({ processors: ['chatty'] });
    const instance = await s.run(await s.createJob({ processorName: 'chatty' }));
    const send = (batchId: string, from: number, count: number) =>
      w.bus.reliableAsk(
        routes.server.reportLog,
        { app: s.app.name },
        {
          instanceId: instance.id,
          workerId: w.options.workerId,
          batchId,
          lines: Array.from({ length: count }, (_, i) => ({
            ts: Date.now(),
            level: 'info' as const,
            message: `line ${from + i}`,
            taskId: i % 2 ? `t${i}` : undefined,
          })),
        },
        { deadlineMs: 5_000 },
      );

    expect(await send('b1', 0, 3)).toEqual({ stored: 3 });
    expect(await send('b1', 0, 3)).toEqual({ stored: 0 }); // a re-sent batch
    expect(await send('b2', 3, 4)).toEqual({ stored: 4 });

    const logs = `/api/v1/apps/${s.app.name}/instances/${instance.id}/logs`;
    const page1 = await s.app.api.get(`${logs}?limit=5`);
    expect(page1.body.lines.map((l: { message: string }) => l.message)).toEqual([
      'line 0',
      'line 1',
      'line 2',
      'line 3',
      'line 4',
    ]);
    expect(page1.body.lines[1]).toMatchObject({
      level: 'info',
      workerId: w.options.workerId,
      taskId: 't1',
    });
    const page2 = await s.app.api.get(`${logs}?limit=5&after=${page1.body.next}`);
    expect(page2.body.lines.map((l: { message: string }) => l.message)).toEqual([
      'line 5',
      'line 6',
    ]);
    const page3 = await s.app.api.get(`${logs}?after=${page2.body.next}`);
    expect(page3.body.lines).toEqual([]);
    expect(page3.body.next).toBe(page2.body.next); // a follower keeps its place
  });

  it('stores nothing for another app’s instance', async () => {
    const w = await s.worker();
    const instance = await s.run(await s.createJob());
    const reply = await w.bus.ask(
      routes.server.reportLog,
      { app: 'other_app' },
      {
        instanceId: instance.id,
        workerId: 'x',
        batchId: 'b',
        lines: [{ ts: 1, level: 'error', message: 'sneaky' }],
      },
    );
    expect(reply).toEqual({ stored: 0 });
    const lines = await s.app.api.get(`/api/v1/apps/${s.app.name}/instances/${instance.id}/logs`);
    expect(lines.body.lines).toEqual([]);
  });
});
