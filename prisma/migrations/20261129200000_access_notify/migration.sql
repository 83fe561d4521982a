-- Tells every API process (LISTEN repdyn_access, store/access-cache.ts) that an answer authorising
-- requests may have changed, so that in-memory copies of principals, share owners and finished
-- experiments' heads are dropped: a key revoked, re-roled, moved or deleted, a share revoked, moved or
-- deleted, an experiment deleted (or moved), a team renamed or deleted. Statement-level: one
-- notification per statement (duplicates within a transaction are folded by Postgres), delivered
-- at commit. (No semicolons in these comments: the migration runner splits statements at them.)
CREATE OR REPLACE FUNCTION repdyn_notify_access() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('repdyn_access', TG_TABLE_NAME);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "ApiKey_notify_access"
  AFTER UPDATE OF "revokedAt", "role", "teamId", "prefix", "hash" OR DELETE ON "ApiKey"
  FOR EACH STATEMENT EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Share_notify_access"
  AFTER UPDATE OF "revokedAt", "experimentId", "keyId", "tokenHash" OR DELETE ON "Share"
  FOR EACH STATEMENT EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Experiment_notify_access"
  AFTER UPDATE OF "teamId" OR DELETE ON "Experiment"
  FOR EACH STATEMENT EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Team_notify_access"
  AFTER UPDATE OF "name" OR DELETE ON "Team"
  FOR EACH STATEMENT EXECUTE FUNCTION repdyn_notify_access();
