import { publishEvent } from '@drover/transport';
import type { NatsConnection } from '@nats-io/nats-core';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { NodeChange } from './advance-run.js';
import type { NodeStatus, RunStatus } from './store/workflow-runs.js';

type RunRef = { id: string; app: string; workflowId: string };

/** Where workflow run and node events go once their change is committed. */
export interface WorkflowEventSink {
  run(run: RunRef, status: RunStatus, reason: string | null): void;
  node(run: RunRef, change: NodeChange): void;
  /** The run's event as it is now (a change made by SQL elsewhere: promoted, stopped). */
  runById(runId: string): void;
  /** The node event of an instance's node (its end was recorded by the trigger). */
  nodeOfInstance(instanceId: string): void;
}

/**
 * Publishes `workflow-run` and `workflow-node` events on
 * drover.<app>.events.<kind>, fire and forget, after the change committed.
 */
export class WorkflowEvents implements WorkflowEventSink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  run(run: RunRef, status: RunStatus, reason: string | null): void {
    publishEvent(
      this.nc,
      {
        type: 'workflow-run',
        app: run.app,
        workflowId: run.workflowId,
        runId: run.id,
        status,
        reason,
        at: Date.now(),
      },
      this.log,
    );
  }

  node(run: RunRef, c: NodeChange): void {
    publishEvent(
      this.nc,
      {
        type: 'workflow-node',
        app: run.app,
        workflowId: run.workflowId,
        runId: run.id,
        nodeId: c.nodeId,
        status: c.status,
        instanceId: c.instanceId,
        childRunId: c.childRunId,
        at: Date.now(),
      },
      this.log,
    );
  }

  runById(runId: string): void {
    this.pool
      .query<{
        id: string;
        app: string;
        workflow_id: string;
        status: RunStatus;
        reason: string | null;
      }>(
        `SELECT r.id, a.name AS app, r.workflow_id, r.status, r.reason
         FROM workflow_runs r JOIN apps a ON a.id = r.app_id WHERE r.id = $1`,
        [runId],
      )
      .then(
        ({ rows }) => {
          const r = rows[0];
          if (r) this.run({ id: r.id, app: r.app, workflowId: r.workflow_id }, r.status, r.reason);
        },
        (err: Error) => this.log.debug({ err: err.message }, 'workflow run event not published'),
      );
  }

  nodeOfInstance(instanceId: string): void {
    this.pool
      .query<{
        run_id: string;
        app: string;
        workflow_id: string;
        node_id: string;
        status: NodeStatus;
        instance_id: string | null;
        child_run_id: string | null;
      }>(
        `SELECT n.run_id, a.name AS app, r.workflow_id, n.node_id, n.status, n.instance_id, n.child_run_id
         FROM instances i JOIN workflow_run_nodes n
           ON n.run_id = i.workflow_run_id AND n.node_id = i.workflow_node_id AND n.instance_id = i.id
         JOIN workflow_runs r ON r.id = n.run_id JOIN apps a ON a.id = r.app_id
         WHERE i.id = $1`,
        [instanceId],
      )
      .then(
        ({ rows }) => {
          const n = rows[0];
          if (!n) return;
          this.node(
            { id: n.run_id, app: n.app, workflowId: n.workflow_id },
            {
              nodeId: n.node_id,
              status: n.status,
              instanceId: n.instance_id,
              childRunId: n.child_run_id,
            },
          );
        },
        (err: Error) => this.log.debug({ err: err.message }, 'workflow node event not published'),
      );
  }
}
