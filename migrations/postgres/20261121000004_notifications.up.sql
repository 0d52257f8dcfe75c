-- Notifications: named subscriptions, deliveries that also carry built-in staff alerts, leases
-- for several nodes, and a log of every attempt.

-- A subscription has a name and description for people; `disabled_reason` says why it was
-- switched off (a receiver answering 410 Gone switches its subscription off).
ALTER TABLE webhook_subscriptions ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE webhook_subscriptions ADD COLUMN description text;
ALTER TABLE webhook_subscriptions ADD COLUMN disabled_reason text;
ALTER TABLE webhook_subscriptions ADD COLUMN updated_at timestamptz;
CREATE INDEX webhook_subscriptions_company ON webhook_subscriptions (company_id, active);

-- Built-in e-mail alerts (SLA approaching to the assignee, breached/escalated to managers)
-- belong to no subscription: such a delivery names its company, kind and recipient itself.
ALTER TABLE webhook_deliveries ALTER COLUMN subscription_id DROP NOT NULL;
ALTER TABLE webhook_deliveries ADD COLUMN company_id uuid REFERENCES companies (id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries ADD COLUMN kind text NOT NULL DEFAULT 'webhook'
    CHECK (kind IN ('webhook', 'slack', 'teams', 'email'));
UPDATE webhook_deliveries d SET company_id = s.company_id, kind = s.kind
    FROM webhook_subscriptions s WHERE s.id = d.subscription_id;
ALTER TABLE webhook_deliveries ALTER COLUMN company_id SET NOT NULL;
ALTER TABLE webhook_deliveries ADD COLUMN recipient text;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_addressed
    CHECK (subscription_id IS NOT NULL OR recipient IS NOT NULL);
-- A node claims a delivery by setting `locked_until` (a lease) before it sends; another node
-- may take it over only once the lease ran out (the first node died mid-attempt).
ALTER TABLE webhook_deliveries ADD COLUMN locked_until timestamptz;
-- The last attempt's HTTP status or SMTP reply code.
ALTER TABLE webhook_deliveries ADD COLUMN last_status integer;
CREATE UNIQUE INDEX webhook_deliveries_alert_once ON webhook_deliveries (event_id, recipient)
    WHERE subscription_id IS NULL;
CREATE INDEX webhook_deliveries_company ON webhook_deliveries (company_id, status, created_at DESC);

-- Every attempt, newest first per company. No foreign keys to deliveries or subscriptions:
-- the log outlives a deleted subscription.
CREATE TABLE notification_log (
    id              bigserial PRIMARY KEY,
    company_id      uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    delivery_id     uuid NOT NULL,
    subscription_id uuid,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    kind            text NOT NULL,
    -- The URL without path and query (for Slack and Teams the path is the credential), or
    -- the e-mail address.
    target          text NOT NULL,
    attempt         integer NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead', 'gone')),
    -- HTTP status or SMTP reply code, when there was an answer.
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX notification_log_company ON notification_log (company_id, at DESC, id DESC);
