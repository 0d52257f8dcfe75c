-- Admin API (issue 5): indexes for callback lists (every sort order, with keyset cursors),
-- callback statistics, the audit log's filters and appointment lists.
-- (unixepoch() is built into SQLite; Postgres gets it in its migration.)

-- Lists: one index per order, led by the company (and the branch for managers).
CREATE INDEX callbacks_company_queue ON callback_requests (company_id, priority_rank DESC, created_at, id);
CREATE INDEX callbacks_branch_queue ON callback_requests (company_id, branch_id, priority_rank DESC, created_at, id);
CREATE INDEX callbacks_company_created ON callback_requests (company_id, created_at, id);
CREATE INDEX callbacks_company_due ON callback_requests (company_id, due_at, id);
-- Stats: open rows by deadline (pending, overdue, missed while open, staff load) and closed
-- rows by closing time (SLA compliance).
CREATE INDEX callbacks_company_open_due ON callback_requests (company_id, due_at)
    WHERE status IN ('pending', 'assigned', 'contacted');
CREATE INDEX callbacks_company_closed ON callback_requests (company_id, completed_at)
    WHERE status IN ('completed', 'expired', 'unreachable');

CREATE INDEX audit_log_entity ON audit_log (company_id, entity_type, entity_id, id);
CREATE INDEX audit_log_company_id ON audit_log (company_id, id);

CREATE INDEX appointments_company_time ON appointments (company_id, starts_at, id);
