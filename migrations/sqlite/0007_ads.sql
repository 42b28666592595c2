-- Advertising: accounts, campaigns, daily spend, click ids, exchange rates; and the time a run
-- that ran out of vendor quota may run again. Keep in step with migrations/postgres/0007_ads.sql.

-- One ad account per (instance, account): its billing currency and the zone its days are
-- counted in. provisional_from: days from here on may still be restated by the platform (the
-- start of the last look-back window pulled).
CREATE TABLE ad_account (
    source           TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    name             TEXT,
    currency         TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    provisional_from TEXT,
    pulled_through   TEXT,
    pulled_at        TEXT,
    raw              TEXT NOT NULL,
    synced_at        TEXT NOT NULL,
    PRIMARY KEY (source, account_id)
);

CREATE TABLE campaign (
    source       TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT,
    channel      TEXT NOT NULL,
    utm_campaign TEXT,
    raw          TEXT NOT NULL,
    synced_at    TEXT NOT NULL,
    PRIMARY KEY (source, account_id, campaign_id)
);

-- Spend of one campaign on one day of the account's zone. The key puts the day before the
-- campaign so a look-back window of an account is one range. A later pull overwrites the row;
-- restated_at/previous_cost say when and from what a pull changed it. cost_micros is the
-- cost in millionths (exact for every platform's precision), so figures sum it exactly in SQL
-- on SQLite too. Money is decimal text in
-- `currency`.
CREATE TABLE ad_spend_daily (
    source        TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    spend_date    TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    cost          TEXT NOT NULL,
    cost_micros   BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    vat_included  BOOLEAN,
    impressions   BIGINT,
    clicks        BIGINT,
    conversions   TEXT,
    restated_at   TEXT,
    previous_cost TEXT,
    raw           TEXT NOT NULL,
    synced_at     TEXT NOT NULL,
    PRIMARY KEY (source, account_id, spend_date, campaign_id)
);

CREATE TABLE click_id (
    source      TEXT NOT NULL,
    click_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    click_date  TEXT NOT NULL,
    synced_at   TEXT NOT NULL,
    PRIMARY KEY (source, click_id)
);

-- One unit of `currency` is worth `rate` units of `base` on rate_date. origin: the connector
-- instance or import that supplied it.
CREATE TABLE fx_rate (
    rate_date TEXT NOT NULL,
    currency  TEXT NOT NULL,
    base      TEXT NOT NULL,
    rate      TEXT NOT NULL,
    origin    TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (rate_date, currency, base)
);

ALTER TABLE sync_run ADD COLUMN resume_at TEXT;
