-- ONE_SHOT anchors, and when each run became due (give-up clock, FIFO order).

-- What a ONE_SHOT delay counts from: set when the job is created or its time
-- expression changes, never by other edits, so its one slot stays the same.
ALTER TABLE jobs ADD COLUMN anchor_at timestamptz;
UPDATE jobs SET anchor_at = updated_at;
ALTER TABLE jobs ALTER COLUMN anchor_at SET NOT NULL, ALTER COLUMN anchor_at SET DEFAULT now();

-- When the run became due (again): its slot or delay, a retry's backoff, a
-- hand-back, a lost accept. "Not started within" counts from it, and queued
-- runs of a job start in (due_at, id) order.
ALTER TABLE instances ADD COLUMN due_at timestamptz;
UPDATE instances SET due_at = next_dispatch_at;
ALTER TABLE instances ALTER COLUMN due_at SET NOT NULL, ALTER COLUMN due_at SET DEFAULT now();
-- Waiting for a slot of the job's maxConcurrentInstances: that wait is not "not started".
ALTER TABLE instances ADD COLUMN queued boolean NOT NULL DEFAULT false;
CREATE INDEX instances_waiting_by_job ON instances (job_id, due_at, id)
  WHERE status IN ('WAITING_DISPATCH', 'WAITING_WORKER');
