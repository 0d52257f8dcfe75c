-- A lifecycle event's follow-up (call actor, call log, callback) is done once `processed_at` is
-- set; events left unprocessed (a failed follow-up, a stop before it finished) are replayed at
-- start-up, oldest first.
ALTER TABLE call_events ADD COLUMN processed_at timestamptz;
CREATE INDEX call_events_unprocessed ON call_events (received_at, id) WHERE processed_at IS NULL;
