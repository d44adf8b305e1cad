-- See the PostgreSQL twin: Metabase's api_key table (docs/api-keys.md), with
-- `key` holding the lower-case hex SHA-256 of the whole key under a unique index.
CREATE TABLE api_key (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER CONSTRAINT fk_api_key_user_id REFERENCES core_user (id),
    key           VARCHAR(254) NOT NULL,
    key_prefix    VARCHAR(7) NOT NULL,
    creator_id    INTEGER NOT NULL CONSTRAINT fk_api_key_created_by_user_id REFERENCES core_user (id),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    name          VARCHAR(254) NOT NULL,
    updated_by_id INTEGER NOT NULL CONSTRAINT fk_api_key_updated_by_id_user_id REFERENCES core_user (id),
    -- NULL for an ordinary key, 'scim' for the SCIM token.
    scope         VARCHAR(64),
    CONSTRAINT api_key_key_prefix_key UNIQUE (key_prefix),
    -- Exact, case-sensitive, as Metabase's constraint.
    CONSTRAINT api_key_name_key UNIQUE (name)
);
-- The lookup of every X-Api-Key request: one equality on this index.
CREATE UNIQUE INDEX idx_api_key_key ON api_key (key);
CREATE INDEX idx_api_key_user_id ON api_key (user_id);
CREATE INDEX idx_api_key_created_by ON api_key (creator_id);
CREATE INDEX idx_api_key_updated_by_id ON api_key (updated_by_id);
