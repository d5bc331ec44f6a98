import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

const s = useDispatchSetup();

describe('text a worker sends', () => {
  it('records a final result holding NUL characters, replaced, instead of refusing the report', async () => {
    const w = await s.worker({ processors: ['nul'] });
    const instance = await s.run(await s.createJob({ processorName: 'nul' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const reply = await w.report(
      { instanceId: instance.id, epoch: 1 },
      'SUCCEEDED',
      'before\u0000after',
    );
    expect(reply).toMatchObject({ accepted: true, stop: false });
    expect(
      await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED'),
    ).toMatchObject({ result: 'before\ufffdafter' });
  });

  it('records a JSON result holding NUL characters in keys and strings, replaced', async () => {
    const w = await s.worker({ processors: ['nul-json'] });
    const instance = await s.run(await s.createJob({ processorName: 'nul-json' }));
    await w.until(() => w.runs.some((r) => r.instanceId === instance.id));
    const reply = await w.report({ instanceId: instance.id, epoch: 1 }, 'SUCCEEDED', {
      'k\u0000ey': ['a\u0000b', 1, null, { deep: '\u0000' }],
    });
    expect(reply).toMatchObject({ accepted: true, stop: false });
    const done = await waitForInstance(s.app, instance.id, (i) => i.status === 'SUCCEEDED');
    expect(done.result).toStrictEqual({ 'k\ufffdey': ['a\ufffdb', 1, null, { deep: '\ufffd' }] });
  });
});
