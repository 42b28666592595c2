-- Webhook deliveries, stored before they are acknowledged and processed afterwards.
-- Keep in step with migrations/postgres/0003_webhook_inbox.sql.
CREATE TABLE webhook_inbox (
    delivery_seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT NOT NULL,
    -- The vendor's delivery id, or sha256:<hex of the body> when it sends none.
    delivery_id     TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    -- Allow-listed headers as a JSON object; never authorisation or signature headers.
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    -- The worker holding a 'processing' delivery (host:pid:nonce), so a dead one's claim can be
    -- taken over at once on the same host.
    claimed_by      TEXT,
    processed_at    TEXT,
    UNIQUE (source, delivery_id)
);
CREATE INDEX webhook_inbox_due ON webhook_inbox (status, next_attempt_at);
