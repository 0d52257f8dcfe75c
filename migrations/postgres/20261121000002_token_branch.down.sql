ALTER TABLE api_tokens DROP COLUMN branch_id;
