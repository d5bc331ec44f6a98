-- Deleting an instance sets retry_of = NULL on its retries (ON DELETE SET
-- NULL): without an index each deleted row scanned the whole table, which
-- kept retention pruning far below the run rate.
CREATE INDEX IF NOT EXISTS instances_retry_of ON instances (retry_of) WHERE retry_of IS NOT NULL;
