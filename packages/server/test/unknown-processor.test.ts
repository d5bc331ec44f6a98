import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

const s = useDispatchSetup({ unknownProcessorGraceMs: 0 });

describe('a job naming a processor no worker has', () => {
  it('fails with a clear message instead of waiting', async () => {
    await s.worker({ processors: ['real-one'] });
    const instance = await s.run(await s.createJob({ processorName: 'reel-one' }));
    const failed = await waitForInstance(s.app, instance.id, (i) => i.status === 'FAILED');
    expect(failed.reason).toBe('no alive worker has a processor named "reel-one"');
  });

  it('keeps waiting when workers lack a required tag (such a worker may join)', async () => {
    const other = await s.createJob({ processorName: 'anything', tags: ['nobody-has-this-tag'] });
    const instance = await s.run(other);
    const waiting = await waitForInstance(s.app, instance.id, (i) => i.status === 'WAITING_WORKER');
    expect(waiting.reason).toMatch(/tags/);
  });
});
