-- CRM leads and deals, pipeline stages, and OAuth tokens. Keep in step with
-- migrations/postgres/0004_crm.sql.

-- One row per CRM lead (amoCRM leads; Zoho CRM Leads) or deal (Zoho CRM Deals). A Zoho lead
-- that was converted names its deal in converted_deal_id; both rows are kept. Money is TEXT
-- in `currency`; deleted rows are marked, never erased.
CREATE TABLE lead (
    source            TEXT NOT NULL,
    entity            TEXT NOT NULL,
    lead_id           TEXT NOT NULL,
    name              TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    pipeline_id       TEXT,
    stage_id          TEXT,
    stage_name        TEXT,
    stage_category    TEXT NOT NULL,
    amount            TEXT,
    discount          TEXT,
    currency          TEXT,
    exchange_rate     TEXT,
    closed_at         TEXT,
    owner_id          TEXT,
    lead_source       TEXT,
    utm_source        TEXT,
    utm_medium        TEXT,
    utm_campaign      TEXT,
    utm_content       TEXT,
    utm_term          TEXT,
    gclid             TEXT,
    yclid             TEXT,
    fbclid            TEXT,
    product           TEXT,
    segment           TEXT,
    region            TEXT,
    converted_deal_id TEXT,
    deleted_at        TEXT,
    raw               TEXT NOT NULL,
    synced_at         TEXT NOT NULL,
    PRIMARY KEY (source, entity, lead_id)
);
CREATE INDEX lead_created ON lead (created_at);
CREATE INDEX lead_campaign ON lead (utm_campaign);
CREATE INDEX lead_gclid ON lead (gclid);

-- Stages of sales pipelines; amoCRM repeats 142 (won) and 143 (lost) in every pipeline.
CREATE TABLE pipeline_stage (
    source        TEXT NOT NULL,
    pipeline_id   TEXT NOT NULL,
    stage_id      TEXT NOT NULL,
    pipeline_name TEXT,
    stage_name    TEXT NOT NULL,
    category      TEXT NOT NULL,
    sort          INTEGER,
    archived      BOOLEAN NOT NULL,
    raw           TEXT NOT NULL,
    synced_at     TEXT NOT NULL,
    PRIMARY KEY (source, pipeline_id, stage_id)
);

-- The OAuth token pair of one connector instance. `version` is bumped by every save; a refresh
-- is claimed (refresh_holder until refresh_until) against a version, so concurrent processes
-- refresh once. These are credentials: protect the store like a secret file.
CREATE TABLE oauth_token (
    source         TEXT NOT NULL PRIMARY KEY,
    access_token   TEXT NOT NULL,
    refresh_token  TEXT,
    expires_at     TEXT,
    api_domain     TEXT,
    version        INTEGER NOT NULL,
    refresh_holder TEXT,
    refresh_until  TEXT,
    updated_at     TEXT NOT NULL
);
