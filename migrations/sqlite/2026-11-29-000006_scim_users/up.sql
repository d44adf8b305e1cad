-- See the PostgreSQL twin (SCIM users): entity_id (Metabase's 21-character NanoID, unique, NULL allowed for
-- rows written by tools that bypass people), external_id (SCIM `externalId`, indexed for equality filters)
-- and scim_deleted_at.
ALTER TABLE core_user ADD COLUMN entity_id CHAR(21);
-- A fresh id per row: random() is not deterministic, so SQLite evaluates it anew for every row and every
-- term; `random() & 63` keeps the low six bits (uniform over the 64 letters; no abs(), which overflows on
-- the smallest 64-bit integer).
UPDATE core_user SET entity_id =
    substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
WHERE entity_id IS NULL;
CREATE UNIQUE INDEX idx_core_user_entity_id ON core_user (entity_id);

-- Groups have had entity_id from the start, but a row inserted by SQL can lack one: same back-fill.
UPDATE permissions_group SET entity_id =
    substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
    || substr('_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', (random() & 63) + 1, 1)
WHERE entity_id IS NULL;

ALTER TABLE core_user ADD COLUMN external_id VARCHAR(254);
CREATE INDEX idx_core_user_external_id ON core_user (external_id);

ALTER TABLE core_user ADD COLUMN scim_deleted_at TIMESTAMP;
