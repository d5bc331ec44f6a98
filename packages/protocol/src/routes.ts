import { z } from 'zod/v4';
import * as pt from './messages/processor-tracker.js';
import * as server from './messages/server.js';
import * as tt from './messages/task-tracker.js';
import { defineRoute } from './route.js';

// The one routing table: every handler of every actor, with its subject,
// schemas and default timeout. Handlers and callers both import it, so they
// cannot drift apart.

/** Reply schema of `tell` routes: there is nothing to answer. */
const NoReply = z.null();

export const routes = {
  server: {
    workerHeartbeat: defineRoute({
      actor: 'server',
      handler: 'worker_heartbeat',
      pattern: 'tell',
      fanout: true,
      request: server.WorkerHeartbeat,
      reply: NoReply,
      timeoutMs: 1_000,
    }),
    reportInstanceStatus: defineRoute({
      actor: 'server',
      handler: 'report_instance_status',
      pattern: 'ask',
      request: server.ReportInstanceStatus,
      reply: server.ReportInstanceStatusReply,
      timeoutMs: 5_000,
    }),
    reportFinals: defineRoute({
      actor: 'server',
      handler: 'report_finals',
      pattern: 'ask',
      request: server.ReportFinals,
      reply: server.ReportFinalsReply,
      timeoutMs: 10_000,
    }),
    reportLog: defineRoute({
      actor: 'server',
      handler: 'report_log',
      pattern: 'ask',
      request: server.ReportLog,
      reply: server.ReportLogReply,
      timeoutMs: 5_000,
    }),
    checkWorker: defineRoute({
      actor: 'server',
      handler: 'check_worker',
      pattern: 'ask',
      // Every server answers; one that accepts is enough (see askAll).
      fanout: true,
      request: server.CheckWorker,
      reply: server.CheckWorkerReply,
      timeoutMs: 2_000,
    }),
    queryCluster: defineRoute({
      actor: 'server',
      handler: 'query_cluster',
      pattern: 'ask',
      request: server.QueryCluster,
      reply: server.QueryClusterReply,
      timeoutMs: 3_000,
    }),
  },
  tt: {
    runJob: defineRoute({
      actor: 'tt',
      handler: 'run_job',
      pattern: 'ask',
      request: tt.RunJob,
      reply: tt.RunJobReply,
      timeoutMs: 3_000,
    }),
    runJobs: defineRoute({
      actor: 'tt',
      handler: 'run_jobs',
      pattern: 'ask',
      request: tt.RunJobs,
      reply: tt.RunJobsReply,
      timeoutMs: 5_000,
    }),
    stopInstance: defineRoute({
      actor: 'tt',
      handler: 'stop_instance',
      pattern: 'ask',
      request: tt.StopInstance,
      reply: tt.StopInstanceReply,
      timeoutMs: 3_000,
    }),
    queryInstanceStatus: defineRoute({
      actor: 'tt',
      handler: 'query_instance_status',
      pattern: 'ask',
      request: tt.QueryInstanceStatus,
      reply: tt.QueryInstanceStatusReply,
      timeoutMs: 3_000,
    }),
    mapTask: defineRoute({
      actor: 'tt',
      handler: 'map_task',
      pattern: 'ask',
      request: tt.MapTask,
      reply: tt.MapTaskReply,
      timeoutMs: 5_000,
    }),
    reportTaskStatus: defineRoute({
      actor: 'tt',
      handler: 'report_task_status',
      pattern: 'ask',
      request: tt.ReportTaskStatus,
      reply: tt.ReportTaskStatusReply,
      timeoutMs: 5_000,
    }),
    releaseTasks: defineRoute({
      actor: 'tt',
      handler: 'release_tasks',
      pattern: 'ask',
      request: tt.ReleaseTasks,
      reply: tt.ReleaseTasksReply,
      timeoutMs: 5_000,
    }),
    ptHeartbeat: defineRoute({
      actor: 'tt',
      handler: 'pt_heartbeat',
      pattern: 'tell',
      request: tt.PtHeartbeat,
      reply: NoReply,
      timeoutMs: 1_000,
    }),
  },
  pt: {
    startTasks: defineRoute({
      actor: 'pt',
      handler: 'start_tasks',
      pattern: 'ask',
      request: pt.StartTasks,
      reply: pt.StartTasksReply,
      timeoutMs: 5_000,
    }),
    stopInstance: defineRoute({
      actor: 'pt',
      handler: 'stop_instance',
      pattern: 'ask',
      request: pt.StopProcessors,
      reply: pt.StopProcessorsReply,
      timeoutMs: 3_000,
    }),
  },
} as const;

/** Every route, flat: for docs, monitoring and fuzz tests. */
export const allRoutes = [
  ...Object.values(routes.server),
  ...Object.values(routes.tt),
  ...Object.values(routes.pt),
];
