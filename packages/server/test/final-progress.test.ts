import { describe, expect, it } from 'vitest';
import { useDispatchSetup } from './support/dispatch-setup.js';
import { waitForInstance } from './support/server-fixture.js';

// A run the server ends (a stop, a lost worker) keeps its worker's last
// progress report, which said a task was running; its final report, if one
// comes, is fenced off. A final run shows no task running.

const s = useDispatchSetup();

describe('the progress of a run the server ended', () => {
  it('shows no task running once the run is stopped', async () => {
    await s.worker({ processors: ['long'] });
    const instance = await s.run(await s.createJob({ processorName: 'long' }));
    const running = await waitForInstance(
      s.app,
      instance.id,
      (i) => i.status === 'RUNNING' && (i.progress as { running?: number } | null)?.running === 1,
    );
    expect(running.progress).toMatchObject({ total: 1, running: 1 });
    const path = `/api/v1/apps/${s.app.name}/instances/${instance.id}`;
    const stopped = await s.app.api.post(`${path}/stop`);
    expect(stopped.body).toMatchObject({
      status: 'STOPPED',
      progress: { total: 1, succeeded: 0, failed: 0, running: 0 },
    });
    expect((await s.app.api.get(path)).body.progress).toMatchObject({ running: 0 });
  });
});
