-- Webhooks (docs/design.md, "Notifications"): an account's receivers of signed event
-- deliveries. The signing secret is kept as issued (the server signs with it; every other
-- secret is a digest): never returned after creation, never logged.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX webhooks_account ON webhooks (account_id);

-- The outbox: one row per event and webhook, written in the transaction of the change it
-- reports, delivered (and retried) by the server's delivery task. `event_key` makes an event
-- that must be sent once (a deadline warning) idempotent; other events use their own id.
-- state: pending, delivered or failed; times are unix seconds of the wall clock.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id),
    event_key TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, event_key)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
