-- The access notifications (20261129200000_access_notify) fire only for rows that really changed.
-- Statement-level triggers fired for statements that matched no row too: a refused revocation
-- (DELETE /v1/keys/<no such key>, an updateMany of zero rows) told every API process to drop its
-- whole access cache, so hostile requests could keep every cache empty. Row-level triggers with a
-- WHEN clause fire for a row whose watched column changed, or a row deleted. Postgres folds equal
-- notifications within a transaction, so a bulk delete still sends one per table.
-- (No semicolons in these comments: the migration runner splits statements at them.)
DROP TRIGGER IF EXISTS "ApiKey_notify_access" ON "ApiKey";
DROP TRIGGER IF EXISTS "Share_notify_access" ON "Share";
DROP TRIGGER IF EXISTS "Experiment_notify_access" ON "Experiment";
DROP TRIGGER IF EXISTS "Team_notify_access" ON "Team";

CREATE TRIGGER "ApiKey_notify_access_update"
  AFTER UPDATE OF "revokedAt", "role", "teamId", "prefix", "hash" ON "ApiKey"
  FOR EACH ROW
  WHEN (OLD."revokedAt" IS DISTINCT FROM NEW."revokedAt" OR OLD."role" IS DISTINCT FROM NEW."role"
        OR OLD."teamId" IS DISTINCT FROM NEW."teamId" OR OLD."prefix" IS DISTINCT FROM NEW."prefix"
        OR OLD."hash" IS DISTINCT FROM NEW."hash")
  EXECUTE FUNCTION repdyn_notify_access();
CREATE TRIGGER "ApiKey_notify_access_delete"
  AFTER DELETE ON "ApiKey" FOR EACH ROW EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Share_notify_access_update"
  AFTER UPDATE OF "revokedAt", "experimentId", "keyId", "tokenHash" ON "Share"
  FOR EACH ROW
  WHEN (OLD."revokedAt" IS DISTINCT FROM NEW."revokedAt" OR OLD."experimentId" IS DISTINCT FROM NEW."experimentId"
        OR OLD."keyId" IS DISTINCT FROM NEW."keyId" OR OLD."tokenHash" IS DISTINCT FROM NEW."tokenHash")
  EXECUTE FUNCTION repdyn_notify_access();
CREATE TRIGGER "Share_notify_access_delete"
  AFTER DELETE ON "Share" FOR EACH ROW EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Experiment_notify_access_update"
  AFTER UPDATE OF "teamId" ON "Experiment"
  FOR EACH ROW WHEN (OLD."teamId" IS DISTINCT FROM NEW."teamId")
  EXECUTE FUNCTION repdyn_notify_access();
CREATE TRIGGER "Experiment_notify_access_delete"
  AFTER DELETE ON "Experiment" FOR EACH ROW EXECUTE FUNCTION repdyn_notify_access();

CREATE TRIGGER "Team_notify_access_update"
  AFTER UPDATE OF "name" ON "Team"
  FOR EACH ROW WHEN (OLD."name" IS DISTINCT FROM NEW."name")
  EXECUTE FUNCTION repdyn_notify_access();
CREATE TRIGGER "Team_notify_access_delete"
  AFTER DELETE ON "Team" FOR EACH ROW EXECUTE FUNCTION repdyn_notify_access();
