DROP TABLE notification_log;
CREATE TABLE webhook_deliveries_old (
    id              BLOB PRIMARY KEY,
    subscription_id BLOB NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id        BLOB NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    UNIQUE (subscription_id, event_id)
);
INSERT INTO webhook_deliveries_old (id, subscription_id, event_id, event_type, payload, status,
        attempts, next_attempt_at, last_error, created_at, delivered_at)
    SELECT id, subscription_id, event_id, event_type, payload, status, attempts,
        next_attempt_at, last_error, created_at, delivered_at
    FROM webhook_deliveries WHERE subscription_id IS NOT NULL;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_old RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX webhook_subscriptions_company;
ALTER TABLE webhook_subscriptions DROP COLUMN updated_at;
ALTER TABLE webhook_subscriptions DROP COLUMN disabled_reason;
ALTER TABLE webhook_subscriptions DROP COLUMN description;
ALTER TABLE webhook_subscriptions DROP COLUMN name;
