-- One row per export and night (the day the files cover): what `[[export]]` wrote and when.
-- A night that is not `done` is made up when the daemon starts (within catch_up_days), and a
-- replica claims the export's lease ("export:<name>") before writing, so each night is written
-- once across replicas. Keep in step with migrations/postgres/0011_export_run.sql.
CREATE TABLE export_run (
    name            TEXT NOT NULL,
    night           TEXT NOT NULL,
    status          TEXT NOT NULL,
    trigger         TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    files           BIGINT NOT NULL DEFAULT 0,
    row_count       BIGINT NOT NULL DEFAULT 0,
    manifest_sha256 TEXT,
    error           TEXT,
    PRIMARY KEY (name, night)
);
