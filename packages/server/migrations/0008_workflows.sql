-- Workflows: DAGs of job, decision, nested-workflow and wait nodes.
--
-- A node's end is recorded in the same transaction as its instance's (or
-- child workflow run's) final state, by the triggers below, whatever code path
-- made it final (a report, the sweeper, a stop, a lost worker). The trigger
-- marks the node, merges its context update and sets needs_advance; the
-- server's advancer then starts successors (idempotently, under the run's row
-- lock), and the sweeper advances any run left with needs_advance by a crash.

CREATE TABLE workflows (
  id                   bigserial PRIMARY KEY,
  app_id               bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  name                 text NOT NULL,
  -- Every validated option (nodes, edges, schedule, policies).
  spec                 jsonb NOT NULL,
  time_expression_type text NOT NULL,
  enabled              boolean NOT NULL DEFAULT true,
  next_trigger_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (app_id, name)
);
CREATE INDEX workflows_due ON workflows (next_trigger_at)
  WHERE enabled AND next_trigger_at IS NOT NULL;

CREATE TABLE workflow_runs (
  id                  bigserial PRIMARY KEY,
  app_id              bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  workflow_id         bigint NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  -- WAITING (queued behind maxConcurrentRuns), RUNNING, SUCCEEDED, FAILED, STOPPED.
  status              text NOT NULL,
  trigger_type        text NOT NULL,
  expected_trigger_at timestamptz,
  idempotency_key     text,
  -- The workflow's spec when the run was created: edits never change a run.
  dag                 jsonb NOT NULL,
  init_params         jsonb,
  -- Starts as init_params (an object) or {}; node context updates merge in.
  context             jsonb NOT NULL DEFAULT '{}'::jsonb,
  parent_run_id       bigint REFERENCES workflow_runs (id) ON DELETE CASCADE,
  parent_node_id      text,
  depth               integer NOT NULL DEFAULT 0,
  -- A node ended (or the run was created, retried, marked): successors to start.
  needs_advance       boolean NOT NULL DEFAULT true,
  reason              text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  UNIQUE (workflow_id, expected_trigger_at),
  UNIQUE (workflow_id, idempotency_key)
);
CREATE INDEX workflow_runs_to_advance ON workflow_runs (id) WHERE needs_advance;
CREATE INDEX workflow_runs_unfinished ON workflow_runs (workflow_id, status)
  WHERE status IN ('WAITING', 'RUNNING');
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, id DESC);
CREATE INDEX workflow_runs_by_app ON workflow_runs (app_id, id DESC);
CREATE INDEX workflow_runs_by_parent ON workflow_runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE TABLE workflow_run_nodes (
  run_id        bigint NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  node_id       text NOT NULL,
  -- PENDING, RUNNING, WAITING (a wait node's timer), SUCCEEDED, FAILED,
  -- STOPPED, SKIPPED (not taken), DISABLED (passed over, counts as done).
  status        text NOT NULL DEFAULT 'PENDING',
  -- Bumped by a retry in place; the node's instance or child run is per attempt.
  attempt       integer NOT NULL DEFAULT 1,
  instance_id   bigint REFERENCES instances (id) ON DELETE SET NULL,
  child_run_id  bigint REFERENCES workflow_runs (id) ON DELETE SET NULL,
  -- A decision's value, or the node's instance result.
  result        jsonb,
  reason        text,
  due_at        timestamptz,
  started_at    timestamptz,
  finished_at   timestamptz,
  -- Order in which nodes ended (context updates merge in this order).
  finish_seq    bigint,
  marked_success boolean NOT NULL DEFAULT false,
  PRIMARY KEY (run_id, node_id)
);
CREATE INDEX workflow_run_nodes_waiting ON workflow_run_nodes (due_at) WHERE status = 'WAITING';
CREATE SEQUENCE workflow_node_finish_seq;

-- A job node's run is a normal instance linked to its node and attempt; the
-- unique key makes starting a node's instance idempotent.
ALTER TABLE instances
  ADD COLUMN workflow_run_id bigint REFERENCES workflow_runs (id) ON DELETE CASCADE,
  ADD COLUMN workflow_node_id text,
  ADD COLUMN workflow_node_attempt integer,
  -- What the run added to its workflow's context (ctx.workflow.set), with its final report.
  ADD COLUMN context_update jsonb,
  -- A node's retry policy override (NULL: the job's instanceRetry).
  ADD COLUMN retry_policy jsonb;
CREATE UNIQUE INDEX instances_workflow_node
  ON instances (workflow_run_id, workflow_node_id, workflow_node_attempt)
  WHERE workflow_run_id IS NOT NULL;

-- A node's instance became final: record the node's end, merge a successful
-- node's context update, and ask for the run to advance. Only the node's
-- current attempt counts (its instance_id matches); a RUNNING check makes it
-- happen once.
CREATE FUNCTION workflow_instance_final() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  node_status text := CASE NEW.status WHEN 'CANCELED' THEN 'STOPPED' ELSE NEW.status END;
BEGIN
  UPDATE workflow_run_nodes
     SET status = node_status, result = NEW.result, reason = NEW.reason,
         finished_at = now(), finish_seq = nextval('workflow_node_finish_seq')
   WHERE run_id = NEW.workflow_run_id AND node_id = NEW.workflow_node_id
     AND instance_id = NEW.id AND status = 'RUNNING';
  IF FOUND THEN
    UPDATE workflow_runs
       SET needs_advance = true,
           context = CASE WHEN NEW.status = 'SUCCEEDED' AND jsonb_typeof(NEW.context_update) = 'object'
                          THEN context || NEW.context_update ELSE context END
     WHERE id = NEW.workflow_run_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER instances_workflow_final
  AFTER UPDATE OF status ON instances
  FOR EACH ROW
  WHEN (NEW.workflow_run_id IS NOT NULL
        AND NEW.status IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED')
        AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED'))
  EXECUTE FUNCTION workflow_instance_final();

-- A nested workflow run became final: its parent's node ends with it, and a
-- successful child's context merges back into the parent's.
CREATE FUNCTION workflow_child_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE workflow_run_nodes
     SET status = NEW.status, reason = NEW.reason,
         finished_at = now(), finish_seq = nextval('workflow_node_finish_seq')
   WHERE run_id = NEW.parent_run_id AND node_id = NEW.parent_node_id
     AND child_run_id = NEW.id AND status = 'RUNNING';
  IF FOUND THEN
    UPDATE workflow_runs
       SET needs_advance = true,
           context = CASE WHEN NEW.status = 'SUCCEEDED' THEN context || NEW.context ELSE context END
     WHERE id = NEW.parent_run_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER workflow_runs_child_final
  AFTER UPDATE OF status ON workflow_runs
  FOR EACH ROW
  WHEN (NEW.parent_run_id IS NOT NULL
        AND NEW.status IN ('SUCCEEDED', 'FAILED', 'STOPPED')
        AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED'))
  EXECUTE FUNCTION workflow_child_final();
