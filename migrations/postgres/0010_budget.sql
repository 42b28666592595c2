-- The advertising budget: lines imported from CSV (`okno import budget`), beside the lines of
-- budgets.toml (which stay in the file and are never copied here), and the budget alerts a
-- webhook was sent, so restarts and replicas do not send one twice a day. Keep in step with
-- migrations/sqlite/0010_budget.sql.

-- One imported line. `source` is the import's name (`--source`); a line id is unique across
-- sources, so a report never shows two lines of one name. Money is NUMERIC, exact.
-- Channel lines set `channel`, campaign lines
-- `campaign_source` and `campaign_id`, overhead lines may set neither.
CREATE TABLE budget_line (
    line_id          TEXT NOT NULL PRIMARY KEY,
    source           TEXT NOT NULL,
    from_day         DATE NOT NULL,
    to_day           DATE NOT NULL,
    channel          TEXT,
    campaign_source  TEXT,
    campaign_id      TEXT,
    amount           NUMERIC NOT NULL,
    currency         TEXT NOT NULL,
    funding          TEXT NOT NULL,
    target_cpl       NUMERIC,
    planned_discount NUMERIC,
    kind             TEXT NOT NULL,
    note             TEXT,
    imported_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX budget_line_source ON budget_line (source);

-- An alert (`overspend` or `cpl`) of a line POSTed to the alert webhook on a day of the report
-- zone. The row is claimed before the POST and removed again if every attempt fails, so one
-- replica sends it and a failed one is tried at the next check.
CREATE TABLE budget_alert_sent (
    line_id   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    alert_day DATE NOT NULL,
    sent_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (line_id, kind, alert_day)
);
