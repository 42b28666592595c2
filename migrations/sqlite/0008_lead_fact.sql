-- Leads as figures count them, derived from `lead` by okno (src/figures): one row per counted
-- lead (not deleted; a Zoho deal its lead converted into is counted through that lead), with the
-- campaign or channel attribution gave it (or why none), its creation and won days in the
-- reporting time zone, and its revenue (won amount minus discount) exactly and in millionths.
-- Rebuilt per source whenever that source's leads, the campaigns, the click ids, the rules or
-- the reporting zone change (fact_state keeps what it was built from). Keep in step with
-- migrations/postgres/0008_lead_fact.sql.
CREATE TABLE lead_fact (
    source          TEXT NOT NULL,
    entity          TEXT NOT NULL,
    lead_id         TEXT NOT NULL,
    created_day     TEXT NOT NULL,
    won_day         TEXT,
    revenue         TEXT,
    revenue_micros  BIGINT,
    currency        TEXT,
    campaign_source TEXT,
    campaign_id     TEXT,
    channel         TEXT,
    via             TEXT,
    reason          TEXT,
    product         TEXT,
    segment         TEXT,
    region          TEXT,
    owner_id        TEXT,
    PRIMARY KEY (source, entity, lead_id)
);
CREATE INDEX lead_fact_created ON lead_fact (created_day);
CREATE INDEX lead_fact_won ON lead_fact (won_day);

CREATE TABLE fact_state (
    source      TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    built_at    TEXT NOT NULL
);
