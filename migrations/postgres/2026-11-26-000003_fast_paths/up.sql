-- Two denormalisations for the hottest reads, both derived from existing data and kept by people itself:
--
-- first_login: the earliest login (what /api/user/current reports), set with last_login on the first login,
-- so that authenticating a request needs no scan of login_history.
ALTER TABLE core_user ADD COLUMN first_login TIMESTAMP;
UPDATE core_user SET first_login = (SELECT min(l.timestamp) FROM login_history l WHERE l.user_id = core_user.id);

-- search_text: the three searchable fields, lower-cased and joined by U+001F, so that
-- GET /api/user?query=… is one trigram index scan instead of three lower() calls per row. The separator
-- cannot appear in a query people sends to this column (people falls back to the per-field test then).
ALTER TABLE core_user ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(coalesce(first_name, '') || E'\x1f' || coalesce(last_name, '') || E'\x1f' || email)
) STORED;
-- fastupdate off: new users go straight into the index instead of a pending list that every search
-- would have to scan (and that makes the planner shy away from the index).
CREATE INDEX idx_core_user_search_trgm ON core_user USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
DROP INDEX idx_core_user_first_name_trgm;
DROP INDEX idx_core_user_last_name_trgm;
DROP INDEX idx_core_user_email_trgm;
