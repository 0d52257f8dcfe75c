-- Admin API (issue 5): indexes for callback lists (every sort order, with keyset cursors),
-- callback statistics, the audit log's filters and appointment lists; and unixepoch(), so the
-- statistics are one SQL text on SQLite (where it is built in) and Postgres.

-- STABLE like date_part on timestamptz: a SQL function is inlined into the query only when it
-- claims no less volatility than its body, and inlined it costs ~4x less per row.
-- date_part returns double precision, cheaper than extract's numeric.
CREATE FUNCTION unixepoch(t timestamptz) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT floor(date_part('epoch', t))::bigint $$;

-- Lists: one index per order, led by the company (and the branch for managers).
CREATE INDEX callbacks_company_queue ON callback_requests (company_id, priority_rank DESC, created_at, id);
CREATE INDEX callbacks_branch_queue ON callback_requests (company_id, branch_id, priority_rank DESC, created_at, id);
CREATE INDEX callbacks_company_created ON callback_requests (company_id, created_at, id);
CREATE INDEX callbacks_company_due ON callback_requests (company_id, due_at, id);
-- Stats: each figure is answered from one of three covering indexes (index-only scans once
-- vacuumed): open rows by deadline, closed rows by closing time, all rows by creation time.
CREATE INDEX callbacks_stats_open ON callback_requests (company_id, due_at)
    INCLUDE (branch_id, status, priority, assigned_staff_id)
    WHERE status IN ('pending', 'assigned', 'contacted');
CREATE INDEX callbacks_stats_closed ON callback_requests (company_id, completed_at)
    INCLUDE (branch_id, status, priority, due_at)
    WHERE status IN ('completed', 'expired', 'unreachable');
CREATE INDEX callbacks_stats_created ON callback_requests (company_id, created_at)
    INCLUDE (branch_id, status, assigned_at, contacted_at, completed_at);

CREATE INDEX audit_log_entity ON audit_log (company_id, entity_type, entity_id, id);
CREATE INDEX audit_log_company_id ON audit_log (company_id, id);

CREATE INDEX appointments_company_time ON appointments (company_id, starts_at, id);
