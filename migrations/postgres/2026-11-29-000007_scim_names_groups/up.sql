-- SCIM names and groups (docs/scim.md): what SCIM keeps beyond Metabase's columns.
--
-- core_user.scim_user_name: the SCIM `userName` when it differs from the email as written (a login name such
-- as "ann", or an address in another case); NULL means userName is the email. Unique ignoring case, as
-- userNames are; a userName that is an address is also guarded by the email's own unique index.
ALTER TABLE core_user ADD COLUMN scim_user_name VARCHAR(254);
CREATE UNIQUE INDEX idx_core_user_scim_user_name ON core_user (lower(scim_user_name));
-- core_user.display_name: SCIM `displayName` when the identity provider sent one; absent, SCIM shows the
-- names ("<given> <family>").
ALTER TABLE core_user ADD COLUMN display_name VARCHAR(254);

-- permissions_group: SCIM `externalId`, and `meta.created` / `meta.lastModified` (which also make the
-- group's ETag). Existing groups are dated by this migration.
ALTER TABLE permissions_group ADD COLUMN external_id VARCHAR(254);
CREATE INDEX idx_permissions_group_external_id ON permissions_group (external_id);
ALTER TABLE permissions_group ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC');
ALTER TABLE permissions_group ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC');
