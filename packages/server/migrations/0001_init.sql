-- Apps, jobs, instances and online logs.

CREATE TABLE apps (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  secret_hash text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id                   bigserial PRIMARY KEY,
  app_id               bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  name                 text NOT NULL,
  -- Every validated job option; the columns below are copies the hot queries need.
  spec                 jsonb NOT NULL,
  time_expression_type text NOT NULL,
  enabled              boolean NOT NULL DEFAULT true,
  next_trigger_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (app_id, name)
);
-- The scheduler's claim query: due, enabled jobs in trigger order.
CREATE INDEX jobs_due ON jobs (next_trigger_at) WHERE enabled AND next_trigger_at IS NOT NULL;

CREATE TABLE instances (
  id                  bigserial PRIMARY KEY,
  app_id              bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  job_id              bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  status              text NOT NULL,
  trigger_type        text NOT NULL,
  -- The schedule slot this run fills; unique per job so two servers never fire a slot twice.
  expected_trigger_at timestamptz,
  idempotency_key     text,
  params              jsonb,
  -- Bumped by every dispatch; reports from an older epoch are rejected.
  epoch               integer NOT NULL DEFAULT 0,
  -- Instance retries used (retry policy), and failed dispatch rounds (backoff).
  run_attempt         integer NOT NULL DEFAULT 1,
  dispatch_failures   integer NOT NULL DEFAULT 0,
  worker_id           text,
  next_dispatch_at    timestamptz NOT NULL DEFAULT now(),
  dispatched_at       timestamptz,
  started_at          timestamptz,
  last_report_at      timestamptz,
  deadline_at         timestamptz,
  finished_at         timestamptz,
  progress            jsonb,
  result              text,
  reason              text,
  retry_of            bigint REFERENCES instances (id) ON DELETE SET NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, expected_trigger_at),
  UNIQUE (job_id, idempotency_key)
);
-- The sweeper and dispatcher only look at unfinished instances.
CREATE INDEX instances_unfinished ON instances (status, next_dispatch_at)
  WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'CANCELED');
CREATE INDEX instances_by_job ON instances (job_id, id DESC);
CREATE INDEX instances_by_app ON instances (app_id, id DESC);
CREATE INDEX instances_finished ON instances (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE instance_logs (
  id          bigserial PRIMARY KEY,
  instance_id bigint NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
  batch_id    text NOT NULL,
  line_no     integer NOT NULL,
  ts          timestamptz NOT NULL,
  level       text NOT NULL,
  message     text NOT NULL,
  worker_id   text NOT NULL,
  task_id     text,
  -- A re-sent batch is stored once.
  UNIQUE (instance_id, batch_id, line_no)
);
CREATE INDEX instance_logs_by_instance ON instance_logs (instance_id, id);
