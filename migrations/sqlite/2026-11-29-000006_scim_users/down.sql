-- Group entity ids back-filled by up.sql stay (the column predates this migration).
ALTER TABLE core_user DROP COLUMN scim_deleted_at;
DROP INDEX idx_core_user_external_id;
ALTER TABLE core_user DROP COLUMN external_id;
DROP INDEX idx_core_user_entity_id;
ALTER TABLE core_user DROP COLUMN entity_id;
