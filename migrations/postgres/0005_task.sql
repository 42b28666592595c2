-- Tasks from trackers (Jira issues, Trello cards). Keep in step with
-- migrations/sqlite/0005_task.sql.
CREATE TABLE task (
    source          TEXT NOT NULL,
    task_id         TEXT NOT NULL,
    task_key        TEXT,
    title           TEXT NOT NULL,
    project         TEXT,
    project_name    TEXT,
    task_type       TEXT,
    labels          JSONB NOT NULL,
    assignee_id     TEXT,
    reporter_id     TEXT,
    status          TEXT NOT NULL,
    status_category TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ,
    done_at         TIMESTAMPTZ,
    campaign        TEXT,
    estimate        NUMERIC,
    deleted_at      TIMESTAMPTZ,
    raw             JSON NOT NULL,
    synced_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, task_id)
);
-- No secondary indexes yet: a department's tasks are thousands a year, which figures scan
-- faster than they could maintain indexes during bulk syncs; add them with the queries that
-- need them.
