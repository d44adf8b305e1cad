ALTER TABLE core_user DROP COLUMN search_text;
ALTER TABLE core_user DROP COLUMN first_login;
