-- One row per connector instance being synced: who holds it and until when. A run claims the
-- row, renews it while it works and deletes it when done, so two processes never sync the same
-- instance at once. Keep in step with migrations/postgres/0002_sync_lease.sql.
CREATE TABLE sync_lease (
    source      TEXT NOT NULL PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
