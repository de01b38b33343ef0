-- Webhooks: subscriptions to audit event types, a per-subscription cursor into the audit
-- trail (the outbox is the trail itself), and every delivery attempt.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,            -- JSON array of action names
    secret      TEXT NOT NULL,            -- HMAC-SHA256 signing secret
    created_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_ms  INTEGER,
    cursor_seq  INTEGER NOT NULL          -- last audit seq delivered or given up on
);

CREATE TABLE webhook_attempts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id     TEXT NOT NULL REFERENCES webhooks(id),
    event_seq      INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    at_ms          INTEGER NOT NULL,
    http_status    INTEGER,
    error          TEXT,
    delivered      INTEGER NOT NULL,
    next_retry_ms  INTEGER                -- NULL: delivered or given up
);

CREATE INDEX webhook_attempts_by_event ON webhook_attempts (webhook_id, event_seq, attempt);
