-- okno schema, PostgreSQL flavour. Keep in step with migrations/sqlite/0001_init.sql: the same
-- tables and columns (a test compares them).

CREATE TABLE ticket (
    source          TEXT NOT NULL,
    ticket_id       TEXT NOT NULL,
    subject         TEXT,
    status          TEXT NOT NULL,
    priority        TEXT,
    ticket_type     TEXT,
    channel         TEXT,
    requester_id    TEXT,
    assignee_id     TEXT,
    group_id        TEXT,
    organization_id TEXT,
    tags            JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ,
    raw             JSON NOT NULL,
    synced_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, ticket_id)
);
CREATE INDEX ticket_assignee ON ticket (source, assignee_id);

CREATE TABLE ticket_metric (
    source                      TEXT NOT NULL,
    ticket_id                   TEXT NOT NULL,
    created_at                  TIMESTAMPTZ,
    updated_at                  TIMESTAMPTZ NOT NULL,
    assigned_at                 TIMESTAMPTZ,
    solved_at                   TIMESTAMPTZ,
    reply_minutes_calendar      BIGINT,
    reply_minutes_business      BIGINT,
    resolution_minutes_calendar BIGINT,
    resolution_minutes_business BIGINT,
    reopens                     BIGINT,
    replies                     BIGINT,
    raw                         JSON NOT NULL,
    synced_at                   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, ticket_id)
);
CREATE INDEX ticket_metric_solved ON ticket_metric (solved_at);

CREATE TABLE person (
    person_id    TEXT NOT NULL PRIMARY KEY,
    display_name TEXT,
    email        TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE person_identity (
    source     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    person_id  TEXT NOT NULL,
    name       TEXT,
    email      TEXT,
    role       TEXT,
    active     BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    raw        JSON NOT NULL,
    synced_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, user_id)
);
CREATE INDEX person_identity_person ON person_identity (person_id);

CREATE TABLE work_group (
    source     TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    deleted    BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    raw        JSON NOT NULL,
    synced_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, group_id)
);

CREATE TABLE sync_state (
    source     TEXT NOT NULL,
    stream     TEXT NOT NULL,
    cursor     JSONB,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, stream)
);

CREATE TABLE sync_run (
    run_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT NOT NULL,
    stream      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    pages       BIGINT NOT NULL DEFAULT 0,
    records     BIGINT NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX sync_run_stream ON sync_run (source, stream, run_id);
