-- Notifications: named subscriptions, deliveries that also carry built-in staff alerts, leases
-- for several nodes, and a log of every attempt. SQLite cannot drop NOT NULL from a column,
-- so webhook_deliveries is rebuilt (nothing references it).

-- A subscription has a name and description for people; `disabled_reason` says why it was
-- switched off (a receiver answering 410 Gone switches its subscription off).
ALTER TABLE webhook_subscriptions ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_subscriptions ADD COLUMN description TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN updated_at TEXT;
CREATE INDEX webhook_subscriptions_company ON webhook_subscriptions (company_id, active);

-- Built-in e-mail alerts (SLA approaching to the assignee, breached/escalated to managers)
-- belong to no subscription: such a delivery names its company, kind and recipient itself.
-- A node claims a delivery by setting `locked_until` (a lease) before it sends; another node
-- may take it over only once the lease ran out. `last_status`: the last HTTP status or SMTP
-- reply code.
CREATE TABLE webhook_deliveries_new (
    id              BLOB PRIMARY KEY,
    subscription_id BLOB REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    company_id      BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'teams', 'email')),
    recipient       TEXT,
    event_id        BLOB NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    UNIQUE (subscription_id, event_id),
    CHECK (subscription_id IS NOT NULL OR recipient IS NOT NULL)
);
INSERT INTO webhook_deliveries_new (id, subscription_id, company_id, kind, recipient, event_id,
        event_type, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at)
    SELECT d.id, d.subscription_id, s.company_id, s.kind, NULL, d.event_id, d.event_type,
        d.payload, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at
    FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE UNIQUE INDEX webhook_deliveries_alert_once ON webhook_deliveries (event_id, recipient)
    WHERE subscription_id IS NULL;
CREATE INDEX webhook_deliveries_company ON webhook_deliveries (company_id, status, created_at DESC);

-- Every attempt, newest first per company. No foreign keys to deliveries or subscriptions:
-- the log outlives a deleted subscription. `target`: the URL without path and query (for
-- Slack and Teams the path is the credential), or the e-mail address.
CREATE TABLE notification_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id      BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    delivery_id     BLOB NOT NULL,
    subscription_id BLOB,
    event_id        BLOB NOT NULL,
    event_type      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead', 'gone')),
    status_code     INTEGER,
    error           TEXT,
    duration_ms     INTEGER NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX notification_log_company ON notification_log (company_id, at DESC, id DESC);
