-- Managers and staff see one branch's data: their token carries that branch. A token dies with
-- its branch, like it does with its staff member.
ALTER TABLE api_tokens ADD COLUMN branch_id BLOB REFERENCES branches (id) ON DELETE CASCADE;
