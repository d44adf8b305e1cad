ALTER TABLE permissions_group DROP COLUMN updated_at;
ALTER TABLE permissions_group DROP COLUMN created_at;
DROP INDEX idx_permissions_group_external_id;
ALTER TABLE permissions_group DROP COLUMN external_id;
ALTER TABLE core_user DROP COLUMN display_name;
DROP INDEX idx_core_user_scim_user_name;
ALTER TABLE core_user DROP COLUMN scim_user_name;
