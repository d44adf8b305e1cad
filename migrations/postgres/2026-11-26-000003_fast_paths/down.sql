CREATE INDEX idx_core_user_first_name_trgm ON core_user USING gin (lower(first_name) gin_trgm_ops);
CREATE INDEX idx_core_user_last_name_trgm ON core_user USING gin (lower(last_name) gin_trgm_ops);
CREATE INDEX idx_core_user_email_trgm ON core_user USING gin (lower(email) gin_trgm_ops);
DROP INDEX idx_core_user_search_trgm;
ALTER TABLE core_user DROP COLUMN search_text;
ALTER TABLE core_user DROP COLUMN first_login;
