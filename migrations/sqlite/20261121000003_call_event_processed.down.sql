DROP INDEX call_events_unprocessed;
ALTER TABLE call_events DROP COLUMN processed_at;
