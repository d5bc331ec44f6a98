import { describe, expect, it } from 'vitest';
import {
  ANY_APP,
  allRoutes,
  appOfSubject,
  eventsSubject,
  routeQueue,
  routeSubject,
  routes,
  SERVER_QUEUE_GROUP,
} from '../src/index.js';

describe('routing table', () => {
  it('names every handler of the architecture (plus release_tasks) once per actor', () => {
    const names = allRoutes.map((r) => `${r.actor}.${r.handler}`).sort();
    expect(names).toEqual([
      'pt.start_tasks',
      'pt.stop_instance',
      'server.check_worker', // added: a refused worker (no such app, id taken) ends at once
      'server.query_cluster',
      'server.report_finals', // added: a worker's final reports in one batch (issue 13)
      'server.report_instance_status',
      'server.report_log',
      'server.worker_heartbeat',
      'tt.map_task',
      'tt.pt_heartbeat',
      'tt.query_instance_status',
      'tt.release_tasks', // added to the architecture's list: a draining worker hands tasks back
      'tt.report_task_status',
      'tt.run_job',
      'tt.run_jobs', // added: many runs to one worker in one message (issue 13)
      'tt.stop_instance',
    ]);
    for (const r of allRoutes) expect(r.handler).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it('builds subjects per actor', () => {
    expect(routeSubject(routes.server.reportLog, { app: 'billing' })).toBe(
      'drover.billing.server.report_log',
    );
    expect(routeSubject(routes.tt.mapTask, { app: 'billing', workerId: 'w-1' })).toBe(
      'drover.billing.worker.w-1.tt.map_task',
    );
    expect(routeSubject(routes.pt.startTasks, { app: 'billing', workerId: 'w-1' })).toBe(
      'drover.billing.worker.w-1.pt.start_tasks',
    );
    expect(eventsSubject('billing', 'instance')).toBe('drover.billing.events.instance');
  });

  it('refuses tokens that would escape an app', () => {
    for (const bad of ['a.b', '>', 'a b', '', 'x'.repeat(65)]) {
      expect(() => routeSubject(routes.server.reportLog, { app: bad })).toThrow(/app/);
      expect(() => routeSubject(routes.tt.runJob, { app: 'ok', workerId: bad })).toThrow(
        /workerId/,
      );
    }
  });

  it('lets a server subscribe for every app, and reads the app back', () => {
    const subject = routeSubject(routes.server.reportLog, { app: ANY_APP });
    expect(subject).toBe('drover.*.server.report_log');
    expect(appOfSubject('drover.billing.server.report_log')).toBe('billing');
    expect(() => routeSubject(routes.tt.runJob, { app: 'ok', workerId: '*' })).toThrow(/workerId/);
  });

  it('queues server handlers except the heartbeat every server must see', () => {
    expect(routeQueue(routes.server.reportInstanceStatus)).toBe(SERVER_QUEUE_GROUP);
    expect(routeQueue(routes.server.workerHeartbeat)).toBeUndefined();
    expect(routeQueue(routes.tt.runJob)).toBeUndefined();
  });

  it('keeps unknown fields out but accepts them (rolling upgrades)', () => {
    const parsed = routes.tt.stopInstance.request.parse({
      instanceId: '12',
      reason: 'user',
      addedInV2: true,
    });
    expect(parsed).toEqual({ instanceId: '12', reason: 'user' });
  });

  it('names the bad field of a message', () => {
    const result = routes.tt.mapTask.request.safeParse({
      instanceId: '1',
      batchId: 'b',
      parentTaskId: 'root',
      taskName: 'n',
      tasks: [{ taskId: 'a' }, { taskId: 7 }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('tasks.1.taskId');
  });
});
