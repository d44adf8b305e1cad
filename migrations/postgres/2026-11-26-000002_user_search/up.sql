-- Substring search of GET /api/user?query=… (lower(col) LIKE '%q%' on three columns): trigram indexes make
-- it an index scan instead of a scan of every user. pg_trgm is a trusted extension (PostgreSQL 13+): the
-- database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX idx_core_user_first_name_trgm ON core_user USING gin (lower(first_name) gin_trgm_ops);
CREATE INDEX idx_core_user_last_name_trgm ON core_user USING gin (lower(last_name) gin_trgm_ops);
CREATE INDEX idx_core_user_email_trgm ON core_user USING gin (lower(email) gin_trgm_ops);
