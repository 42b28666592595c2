-- Every claim of a lease bumps its epoch; a page commits only while its writer's (holder,
-- epoch) still owns the lease, so a process that stalled past its lease cannot write over the
-- one that took over. Released leases keep their row (and epoch). Keep in step with
-- migrations/sqlite/0006_lease_epoch.sql.
ALTER TABLE sync_lease ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
