-- callflow schema, SQLite flavour: the same tables as migrations/postgres, with ids as 16-byte
-- BLOBs, times as RFC 3339 TEXT in UTC (which sorts correctly as text) and lists as JSON TEXT.
-- SQLite has one writer at a time, so the store's guarded INSERT is enough to prevent double
-- booking here; Postgres adds an exclusion constraint for several nodes.

CREATE TABLE companies (
    id                BLOB PRIMARY KEY,
    name              TEXT NOT NULL,
    slug              TEXT NOT NULL UNIQUE,
    default_branch_id BLOB REFERENCES branches (id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))
);

CREATE TABLE branches (
    id                    BLOB PRIMARY KEY,
    company_id            BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    slug                  TEXT NOT NULL,
    address               TEXT NOT NULL DEFAULT '',
    time_zone             TEXT NOT NULL,
    languages             TEXT NOT NULL DEFAULT '[]',
    active                INTEGER NOT NULL DEFAULT 1,
    fallback_branch_id    BLOB REFERENCES branches (id) ON DELETE SET NULL,
    service_area_prefixes TEXT NOT NULL DEFAULT '[]',
    opening_hours         TEXT NOT NULL DEFAULT '{}',
    date_overrides        TEXT NOT NULL DEFAULT '[]',
    agent_by_language     TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    UNIQUE (company_id, slug)
);

CREATE TABLE phone_numbers (
    number          TEXT PRIMARY KEY,
    company_id      BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    -- NULL for a company-wide number: history, area code and the company default pick the branch.
    branch_id       BLOB REFERENCES branches (id) ON DELETE SET NULL,
    retell_agent_id TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))
);
CREATE INDEX phone_numbers_agent ON phone_numbers (retell_agent_id);

CREATE TABLE staff (
    id             BLOB PRIMARY KEY,
    branch_id      BLOB NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('practitioner', 'assistant', 'reception', 'manager')),
    skills         TEXT NOT NULL DEFAULT '[]',
    languages      TEXT NOT NULL DEFAULT '[]',
    working_hours  TEXT NOT NULL DEFAULT '{}',
    breaks         TEXT NOT NULL DEFAULT '{}',
    date_overrides TEXT NOT NULL DEFAULT '[]',
    active         INTEGER NOT NULL DEFAULT 1,
    email          TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))
);
CREATE INDEX staff_branch ON staff (branch_id);

CREATE TABLE services (
    id                    BLOB PRIMARY KEY,
    company_id            BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    duration_minutes      INTEGER NOT NULL CHECK (duration_minutes > 0),
    buffer_before_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes  INTEGER NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
    required_skills       TEXT NOT NULL DEFAULT '[]',
    active                INTEGER NOT NULL DEFAULT 1,
    UNIQUE (company_id, name)
);

CREATE TABLE customers (
    id                   BLOB PRIMARY KEY,
    company_id           BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    phone                TEXT NOT NULL,
    name                 TEXT,
    external_ref         TEXT,
    preferred_language   TEXT,
    preferred_staff_id   BLOB REFERENCES staff (id) ON DELETE SET NULL,
    vip                  INTEGER NOT NULL DEFAULT 0,
    failed_booking_count INTEGER NOT NULL DEFAULT 0 CHECK (failed_booking_count >= 0),
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    UNIQUE (company_id, phone)
);

CREATE TABLE appointments (
    id                BLOB PRIMARY KEY,
    company_id        BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    branch_id         BLOB NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    staff_id          BLOB NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    customer_id       BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    service_id        BLOB NOT NULL REFERENCES services (id),
    starts_at         TEXT NOT NULL,
    ends_at           TEXT NOT NULL,
    blocked_from      TEXT NOT NULL,
    blocked_until     TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'completed', 'no_show')),
    source_call_id    TEXT,
    idempotency_key   TEXT,
    assignment_reason TEXT,
    notes             TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    CHECK (starts_at < ends_at AND blocked_from <= starts_at AND ends_at <= blocked_until),
    UNIQUE (company_id, idempotency_key)
);
CREATE INDEX appointments_staff_time ON appointments (staff_id, blocked_from) WHERE status = 'booked';
CREATE INDEX appointments_customer ON appointments (customer_id, starts_at);
CREATE INDEX appointments_branch_time ON appointments (branch_id, starts_at);

CREATE TABLE calls (
    id                   TEXT PRIMARY KEY,
    company_id           BLOB REFERENCES companies (id) ON DELETE SET NULL,
    branch_id            BLOB REFERENCES branches (id) ON DELETE SET NULL,
    from_number          TEXT,
    to_number            TEXT,
    agent_id             TEXT,
    language             TEXT,
    status               TEXT NOT NULL CHECK (status IN ('registered', 'ongoing', 'ended', 'analyzed')),
    started_at           TEXT,
    ended_at             TEXT,
    duration_ms          INTEGER,
    disconnection_reason TEXT,
    transcript           TEXT,
    summary              TEXT,
    sentiment            TEXT,
    successful           INTEGER,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))
);
CREATE INDEX calls_caller ON calls (from_number, created_at);

CREATE TABLE call_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     TEXT NOT NULL,
    event       TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL UNIQUE,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, received_at);

CREATE TABLE callback_requests (
    id                BLOB PRIMARY KEY,
    company_id        BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    branch_id         BLOB REFERENCES branches (id) ON DELETE SET NULL,
    customer_id       BLOB REFERENCES customers (id) ON DELETE SET NULL,
    phone             TEXT NOT NULL,
    name              TEXT,
    reason            TEXT NOT NULL,
    notes             TEXT,
    priority          TEXT NOT NULL CHECK (priority IN ('normal', 'high', 'urgent')),
    priority_rank     INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'assigned', 'contacted', 'completed', 'cancelled', 'expired', 'unreachable')),
    assigned_staff_id BLOB REFERENCES staff (id) ON DELETE SET NULL,
    assignment_reason TEXT,
    language          TEXT,
    source_call_id    TEXT,
    scheduled_for     TEXT,
    due_at            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    escalation_level  INTEGER NOT NULL DEFAULT 0,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    assigned_at       TEXT,
    contacted_at      TEXT,
    completed_at      TEXT
);
-- Queue order everywhere is priority first, then oldest.
CREATE INDEX callbacks_queue ON callback_requests (company_id, status, priority_rank DESC, created_at);
CREATE INDEX callbacks_assignee ON callback_requests (assigned_staff_id, status);
CREATE INDEX callbacks_phone ON callback_requests (company_id, phone, created_at);
CREATE INDEX callbacks_open_due ON callback_requests (due_at)
    WHERE status IN ('pending', 'assigned', 'contacted');

CREATE TABLE callback_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id BLOB NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
    staff_id    BLOB REFERENCES staff (id) ON DELETE SET NULL,
    outcome     TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX callback_attempts_callback ON callback_attempts (callback_id);

CREATE TABLE callback_escalations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id   BLOB NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
    from_staff_id BLOB REFERENCES staff (id) ON DELETE SET NULL,
    to_staff_id   BLOB REFERENCES staff (id) ON DELETE SET NULL,
    reason        TEXT NOT NULL,
    level         INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX callback_escalations_callback ON callback_escalations (callback_id);

CREATE TABLE webhook_subscriptions (
    id          BLOB PRIMARY KEY,
    company_id  BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'teams', 'email')),
    target      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT NOT NULL DEFAULT '[]',
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
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
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    company_id   BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('staff', 'manager', 'admin')),
    staff_id     BLOB REFERENCES staff (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  BLOB NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    token_id    BLOB REFERENCES api_tokens (id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    ip          TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX audit_log_company ON audit_log (company_id, at DESC);
