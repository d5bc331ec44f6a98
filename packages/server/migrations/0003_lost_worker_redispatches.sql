-- Runs dispatched again because their TaskTracker's worker was lost (not a
-- processor failure, so no instance retry is used); capped per run.
ALTER TABLE instances ADD COLUMN IF NOT EXISTS lost_worker_redispatches integer NOT NULL DEFAULT 0;
