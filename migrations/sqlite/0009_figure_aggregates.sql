-- Aggregates that let the ROI report read thousands of rows instead of millions. Keep in step
-- with migrations/postgres/0009_figure_aggregates.sql.

-- ad_spend_daily summed per account, month (YYYY-MM of spend_date), campaign, currency and
-- whether the cost included VAT. Kept lazily: the transaction that writes spend rows (or zeroes
-- them through a SpendWindow) marks its (source, account, month) in spend_month_dirty, bumping
-- version; a report first recomputes the marked months and clears a mark only if its version
-- did not move meanwhile. max_day is the last day with a row (provisional when on or after the
-- account's provisional_from). Keyed by month first, so a report's months are one range of
-- the key (and, on SQLite, of the table itself: WITHOUT ROWID).
CREATE TABLE spend_month (
    source       TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    month        TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    currency     TEXT NOT NULL,
    vat_included BOOLEAN NOT NULL,
    cost_micros  BIGINT NOT NULL,
    impressions  BIGINT NOT NULL,
    clicks       BIGINT NOT NULL,
    max_day      TEXT NOT NULL,
    day_rows     BIGINT NOT NULL,
    PRIMARY KEY (month, source, account_id, campaign_id, currency, vat_included)
) WITHOUT ROWID;

CREATE TABLE spend_month_dirty (
    source     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    month      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    PRIMARY KEY (source, account_id, month)
);
INSERT INTO spend_month_dirty (source, account_id, month, version)
    SELECT DISTINCT source, account_id, substr(CAST(spend_date AS TEXT), 1, 7), 1 FROM ad_spend_daily;

-- lead_fact summed per month, maintained with the facts (rebuilt with them, or changed by the
-- difference when only some leads changed): per attribution, product, segment and region,
-- `leads` created in `month`; `won` in `month` with their revenue (`won_micros`); and the
-- cohort: leads created in `month` and won by now, with their revenue. Revenue in another
-- currency than the reporting one the facts were built for keeps its won day (`fx_day`) and
-- `currency`, so it can be converted at that day's rate; in the reporting currency both are ''.
-- Empty text stands for none in every key column, so the key can be a primary key on both
-- backends.
CREATE TABLE lead_month (
    source          TEXT NOT NULL,
    month           TEXT NOT NULL,
    campaign_source TEXT NOT NULL,
    campaign_id     TEXT NOT NULL,
    channel         TEXT NOT NULL,
    product         TEXT NOT NULL,
    segment         TEXT NOT NULL,
    region          TEXT NOT NULL,
    fx_day          TEXT NOT NULL,
    currency        TEXT NOT NULL,
    leads           BIGINT NOT NULL,
    won             BIGINT NOT NULL,
    won_micros      BIGINT NOT NULL,
    cohort          BIGINT NOT NULL,
    cohort_micros   BIGINT NOT NULL,
    PRIMARY KEY (month, source, campaign_source, campaign_id, channel, product, segment, region,
                 fx_day, currency)
) WITHOUT ROWID;

-- What the facts were built from, split so a change of leads alone is applied incrementally:
-- fingerprint covers rules, zone, currency, campaigns and click ids; leads_state the source's
-- lead count and newest synced_at; leads_since when the last build began reading leads.
ALTER TABLE fact_state ADD COLUMN leads_state TEXT;
ALTER TABLE fact_state ADD COLUMN leads_since TEXT;
-- Facts built before lead_month existed have no aggregates: rebuild them on the next report.
DELETE FROM fact_state;

-- Incremental fact refresh reads the leads changed since a build and the leads converted into
-- given deals.
CREATE INDEX lead_synced ON lead (source, synced_at);
CREATE INDEX lead_converted ON lead (source, converted_deal_id) WHERE converted_deal_id IS NOT NULL;
