-- NATS users (public nkeys) drover-server writes into nats-server's
-- authorization include: servers, monitors and each app's worker keys.
-- Seeds are never stored; a revoked key stays listed with revoked_at set.
CREATE TABLE nats_keys (
  public_key text PRIMARY KEY,
  role       text NOT NULL CHECK (role IN ('server', 'worker', 'monitor')),
  app_id     bigint NULL REFERENCES apps (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz NULL,
  -- A worker key belongs to exactly one app; servers and monitors to none.
  CHECK ((role = 'worker') = (app_id IS NOT NULL))
);
CREATE INDEX nats_keys_by_app ON nats_keys (app_id) WHERE app_id IS NOT NULL;
