-- Wakes the servers' workflow advancers when a run needs advancing: created,
-- a node ended (the triggers of 0008), retried, marked, stopped. Sent at
-- commit, so a listener never sees the change before it is visible. Only a
-- wake-up: the advancer's locked query stays the truth, and the sweeper
-- advances any run whose notification was missed (a listener reconnecting).
CREATE FUNCTION workflow_run_advance_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('drover_workflow_advance', NEW.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER workflow_runs_advance_notify
  AFTER INSERT OR UPDATE OF needs_advance ON workflow_runs
  FOR EACH ROW
  WHEN (NEW.needs_advance)
  EXECUTE FUNCTION workflow_run_advance_notify();
