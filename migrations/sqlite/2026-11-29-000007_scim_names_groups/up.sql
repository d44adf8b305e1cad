-- See the PostgreSQL twin (SCIM names and groups). SQLite cannot add a column whose default is not a
-- constant, so existing groups get their dates by an UPDATE.
ALTER TABLE core_user ADD COLUMN scim_user_name VARCHAR(254);
CREATE UNIQUE INDEX idx_core_user_scim_user_name ON core_user (lower(scim_user_name));
ALTER TABLE core_user ADD COLUMN display_name VARCHAR(254);

ALTER TABLE permissions_group ADD COLUMN external_id VARCHAR(254);
CREATE INDEX idx_permissions_group_external_id ON permissions_group (external_id);
ALTER TABLE permissions_group ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE permissions_group ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE permissions_group SET created_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP;
