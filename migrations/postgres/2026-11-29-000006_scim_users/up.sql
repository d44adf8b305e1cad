-- SCIM users (docs/scim.md; Metabase 0.50 added entity_id): the stable public id SCIM knows a user by,
-- the identity provider's own id, and the mark of a user SCIM deleted.
--
-- entity_id: Metabase's column (0.50), 21 characters of the NanoID alphabet, random. people assigns one on
-- insert; rows written by tools that bypass people may leave it NULL (the unique index allows any number of
-- NULLs), and refreshing the SCIM token back-fills those (Repo::backfill_entity_ids).
ALTER TABLE core_user ADD COLUMN entity_id CHAR(21);
-- A fresh id per row: the sub-select refers to the row (core_user.id), so it is a correlated sub-plan run
-- for every row, not an init-plan run once for the whole statement.
UPDATE core_user SET entity_id = array_to_string(array(
    SELECT substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (floor(random() * 64) + 1)::int, 1)
    FROM generate_series(1, 21)
    WHERE core_user.id IS NOT NULL
), '')
WHERE entity_id IS NULL;
CREATE UNIQUE INDEX idx_core_user_entity_id ON core_user (entity_id);

-- Groups have had entity_id from the start, but a row inserted by SQL can lack one: same back-fill.
UPDATE permissions_group SET entity_id = array_to_string(array(
    SELECT substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (floor(random() * 64) + 1)::int, 1)
    FROM generate_series(1, 21)
    WHERE permissions_group.id IS NOT NULL
), '')
WHERE entity_id IS NULL;

-- external_id: people's own, SCIM `externalId` as the identity provider sent it (case-exact, RFC 7643 §3.1);
-- IdPs correlate on it with `externalId eq "…"`, which this index serves.
ALTER TABLE core_user ADD COLUMN external_id VARCHAR(254);
CREATE INDEX idx_core_user_external_id ON core_user (external_id);

-- scim_deleted_at: when SCIM deleted the user (DELETE /Users/:id): SCIM answers 404 for them from then on
-- while the row stays, deactivated. UTC without a zone, as every timestamp here.
ALTER TABLE core_user ADD COLUMN scim_deleted_at TIMESTAMP;
