-- See the PostgreSQL twin: first_login (earliest login, kept with last_login) and search_text (the searchable
-- fields lower-cased and joined by U+001F; virtual here, as SQLite has no trigram index to feed).
ALTER TABLE core_user ADD COLUMN first_login TIMESTAMP;
UPDATE core_user SET first_login = (SELECT min(l.timestamp) FROM login_history l WHERE l.user_id = core_user.id);
ALTER TABLE core_user ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(coalesce(first_name, '') || char(31) || coalesce(last_name, '') || char(31) || email)
) VIRTUAL;
