-- A run's result is any JSON value the processor returned. Results stored
-- before were text: each becomes that JSON string (NULL stays NULL), so the
-- API answers them as it did. Rewrites the table once.
ALTER TABLE instances ALTER COLUMN result TYPE jsonb USING to_jsonb(result);
