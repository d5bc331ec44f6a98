-- Bumped by every edit of a job. A server keeps the jobs it read in memory
-- and adds a run from such a copy only while the job is still at its
-- version (the INSERT checks it), so an edit on another server is never missed.
ALTER TABLE jobs ADD COLUMN version bigint NOT NULL DEFAULT 1;
