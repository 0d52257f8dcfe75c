-- callflow schema, Postgres flavour. Ids are uuid, times timestamptz (UTC), lists and
-- weekly hours jsonb. The exclusion constraint on appointments is the final guard against
-- double booking, whatever any node does.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE companies (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    slug              text NOT NULL UNIQUE,
    default_branch_id uuid,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE branches (
    id                    uuid PRIMARY KEY,
    company_id            uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name                  text NOT NULL,
    slug                  text NOT NULL,
    address               text NOT NULL DEFAULT '',
    time_zone             text NOT NULL,
    languages             jsonb NOT NULL DEFAULT '[]',
    active                boolean NOT NULL DEFAULT true,
    fallback_branch_id    uuid REFERENCES branches (id) ON DELETE SET NULL,
    service_area_prefixes jsonb NOT NULL DEFAULT '[]',
    opening_hours         jsonb NOT NULL DEFAULT '{}',
    date_overrides        jsonb NOT NULL DEFAULT '[]',
    agent_by_language     jsonb NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, slug)
);

ALTER TABLE companies
    ADD CONSTRAINT companies_default_branch_fk
    FOREIGN KEY (default_branch_id) REFERENCES branches (id) ON DELETE SET NULL;

CREATE TABLE phone_numbers (
    number          text PRIMARY KEY,
    company_id      uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    -- NULL for a company-wide number: history, area code and the company default pick the branch.
    branch_id       uuid REFERENCES branches (id) ON DELETE SET NULL,
    retell_agent_id text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX phone_numbers_agent ON phone_numbers (retell_agent_id);

CREATE TABLE staff (
    id             uuid PRIMARY KEY,
    branch_id      uuid NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('practitioner', 'assistant', 'reception', 'manager')),
    skills         jsonb NOT NULL DEFAULT '[]',
    languages      jsonb NOT NULL DEFAULT '[]',
    working_hours  jsonb NOT NULL DEFAULT '{}',
    breaks         jsonb NOT NULL DEFAULT '{}',
    date_overrides jsonb NOT NULL DEFAULT '[]',
    active         boolean NOT NULL DEFAULT true,
    email          text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_branch ON staff (branch_id);

CREATE TABLE services (
    id                    uuid PRIMARY KEY,
    company_id            uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name                  text NOT NULL,
    duration_minutes      integer NOT NULL CHECK (duration_minutes > 0),
    buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
    required_skills       jsonb NOT NULL DEFAULT '[]',
    active                boolean NOT NULL DEFAULT true,
    UNIQUE (company_id, name)
);

CREATE TABLE customers (
    id                   uuid PRIMARY KEY,
    company_id           uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    phone                text NOT NULL,
    name                 text,
    external_ref         text,
    preferred_language   text,
    preferred_staff_id   uuid REFERENCES staff (id) ON DELETE SET NULL,
    vip                  boolean NOT NULL DEFAULT false,
    failed_booking_count integer NOT NULL DEFAULT 0 CHECK (failed_booking_count >= 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, phone)
);

CREATE TABLE appointments (
    id                uuid PRIMARY KEY,
    company_id        uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    branch_id         uuid NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    staff_id          uuid NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    customer_id       uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    service_id        uuid NOT NULL REFERENCES services (id),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    blocked_from      timestamptz NOT NULL,
    blocked_until     timestamptz NOT NULL,
    status            text NOT NULL CHECK (status IN ('booked', 'cancelled', 'completed', 'no_show')),
    source_call_id    text,
    idempotency_key   text,
    assignment_reason text,
    notes             text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_at < ends_at AND blocked_from <= starts_at AND ends_at <= blocked_until),
    UNIQUE (company_id, idempotency_key),
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        staff_id WITH =,
        tstzrange(blocked_from, blocked_until, '[)') WITH &&
    ) WHERE (status = 'booked')
);
-- Calendar loads and the guarded insert read a staff member's booked time by start.
CREATE INDEX appointments_staff_time ON appointments (staff_id, blocked_from) WHERE status = 'booked';
CREATE INDEX appointments_customer ON appointments (customer_id, starts_at);
CREATE INDEX appointments_branch_time ON appointments (branch_id, starts_at);

CREATE TABLE calls (
    id                   text PRIMARY KEY,
    company_id           uuid REFERENCES companies (id) ON DELETE SET NULL,
    branch_id            uuid REFERENCES branches (id) ON DELETE SET NULL,
    from_number          text,
    to_number            text,
    agent_id             text,
    language             text,
    status               text NOT NULL CHECK (status IN ('registered', 'ongoing', 'ended', 'analyzed')),
    started_at           timestamptz,
    ended_at             timestamptz,
    duration_ms          bigint,
    disconnection_reason text,
    transcript           text,
    summary              text,
    sentiment            text,
    successful           boolean,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_caller ON calls (from_number, created_at);

CREATE TABLE call_events (
    id          bigserial PRIMARY KEY,
    call_id     text NOT NULL,
    event       text NOT NULL,
    dedupe_key  text NOT NULL UNIQUE,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, received_at);

CREATE TABLE callback_requests (
    id                uuid PRIMARY KEY,
    company_id        uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    branch_id         uuid REFERENCES branches (id) ON DELETE SET NULL,
    customer_id       uuid REFERENCES customers (id) ON DELETE SET NULL,
    phone             text NOT NULL,
    name              text,
    reason            text NOT NULL,
    notes             text,
    priority          text NOT NULL CHECK (priority IN ('normal', 'high', 'urgent')),
    priority_rank     smallint NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'assigned', 'contacted', 'completed', 'cancelled', 'expired', 'unreachable')),
    assigned_staff_id uuid REFERENCES staff (id) ON DELETE SET NULL,
    assignment_reason text,
    language          text,
    source_call_id    text,
    scheduled_for     timestamptz,
    due_at            timestamptz NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    escalation_level  integer NOT NULL DEFAULT 0,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    assigned_at       timestamptz,
    contacted_at      timestamptz,
    completed_at      timestamptz
);
-- Queue order everywhere is priority first, then oldest.
CREATE INDEX callbacks_queue ON callback_requests (company_id, status, priority_rank DESC, created_at);
CREATE INDEX callbacks_assignee ON callback_requests (assigned_staff_id, status);
CREATE INDEX callbacks_phone ON callback_requests (company_id, phone, created_at);
CREATE INDEX callbacks_open_due ON callback_requests (due_at)
    WHERE status IN ('pending', 'assigned', 'contacted');

CREATE TABLE callback_attempts (
    id          bigserial PRIMARY KEY,
    callback_id uuid NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
    staff_id    uuid REFERENCES staff (id) ON DELETE SET NULL,
    outcome     text NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX callback_attempts_callback ON callback_attempts (callback_id);

CREATE TABLE callback_escalations (
    id            bigserial PRIMARY KEY,
    callback_id   uuid NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
    from_staff_id uuid REFERENCES staff (id) ON DELETE SET NULL,
    to_staff_id   uuid REFERENCES staff (id) ON DELETE SET NULL,
    reason        text NOT NULL,
    level         integer NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX callback_escalations_callback ON callback_escalations (callback_id);

CREATE TABLE webhook_subscriptions (
    id          uuid PRIMARY KEY,
    company_id  uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('webhook', 'slack', 'teams', 'email')),
    target      text NOT NULL,
    secret      text NOT NULL,
    event_types jsonb NOT NULL DEFAULT '[]',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    company_id   uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('staff', 'manager', 'admin')),
    staff_id     uuid REFERENCES staff (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    company_id  uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    token_id    uuid REFERENCES api_tokens (id) ON DELETE SET NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    old_value   jsonb,
    new_value   jsonb,
    ip          text,
    at          timestamptz NOT NULL
);
CREATE INDEX audit_log_company ON audit_log (company_id, at DESC);
