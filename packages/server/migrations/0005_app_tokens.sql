-- API tokens of an app (HTTP bearer tokens): several at once, so one can be
-- rotated without downtime (add, switch callers, revoke). The secret given at
-- app creation is the first; apps.secret_hash keeps it for older servers.

CREATE TABLE app_tokens (
  id         bigserial PRIMARY KEY,
  app_id     bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX app_tokens_live ON app_tokens (app_id, id) WHERE revoked_at IS NULL;

INSERT INTO app_tokens (app_id, token_hash, created_at)
SELECT id, secret_hash, created_at FROM apps;
