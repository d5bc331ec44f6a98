-- Bumped by every edit of a job. A server keeps the jobs it read in memory
-- and adds a run from such a copy only while the job is still at its
-- version (the INSERT checks it), so an edit on another server is never
-- missed. A trigger bumps it, so an edit by an older server counts too.
ALTER TABLE jobs ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION jobs_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$;

-- Not on next_trigger_at: the scheduler moves it on every fire, and runs do not depend on it.
CREATE TRIGGER jobs_version
  BEFORE UPDATE OF name, spec, enabled, time_expression_type, anchor_at ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_bump_version();
