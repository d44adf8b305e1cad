-- people's schema, with Metabase's table and column names (spec §1.1, §1.5, §1.6).
-- Timestamps are UTC without a zone (Diesel's portable Timestamp type); the API renders them with "Z".

CREATE TABLE core_user (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    email            VARCHAR(254) NOT NULL,
    first_name       VARCHAR(254),
    last_name        VARCHAR(254),
    -- NULL for a user created without a password (spec A.4): no password login until one is set.
    password         VARCHAR(255),
    password_salt    VARCHAR(255),
    date_joined      TIMESTAMP NOT NULL,
    last_login       TIMESTAMP,
    is_superuser     BOOLEAN NOT NULL DEFAULT FALSE,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    -- SHA-256 (hex) of the outstanding reset token (spec A.4), never the token itself.
    reset_token      VARCHAR(255),
    reset_triggered  BIGINT,
    is_qbnewb        BOOLEAN NOT NULL DEFAULT TRUE,
    is_datasetnewb   BOOLEAN NOT NULL DEFAULT TRUE,
    login_attributes TEXT,
    updated_at       TIMESTAMP NOT NULL,
    sso_source       VARCHAR(254),
    locale           VARCHAR(5),
    settings         TEXT,
    type             VARCHAR(64) NOT NULL DEFAULT 'personal'
);
CREATE UNIQUE INDEX idx_core_user_email_lower ON core_user (lower(email));
-- The list's default order (lower(first_name), lower(last_name), id).
CREATE INDEX idx_core_user_list_order ON core_user (lower(first_name), lower(last_name), id);

CREATE TABLE permissions_group (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      VARCHAR(255) NOT NULL,
    entity_id VARCHAR(21)
);
CREATE UNIQUE INDEX idx_permissions_group_name_lower ON permissions_group (lower(name));
CREATE UNIQUE INDEX idx_permissions_group_entity_id ON permissions_group (entity_id);
INSERT INTO permissions_group (id, name, entity_id) VALUES
    (1, 'All Users', 'allusers0000000000001'),
    (2, 'Administrators', 'administrators0000002');

CREATE TABLE permissions_group_membership (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES core_user (id) ON DELETE CASCADE,
    group_id         INTEGER NOT NULL REFERENCES permissions_group (id) ON DELETE CASCADE,
    is_group_manager BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX idx_membership_user_group ON permissions_group_membership (user_id, group_id);
CREATE INDEX idx_membership_group ON permissions_group_membership (group_id, user_id);

CREATE TABLE core_session (
    -- SHA-256 (hex) of the session token handed to the client (spec A.4).
    id              VARCHAR(64) PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES core_user (id) ON DELETE CASCADE,
    created_at      TIMESTAMP NOT NULL,
    anti_csrf_token TEXT
);
CREATE INDEX idx_core_session_user ON core_session (user_id);

CREATE TABLE login_history (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp          TIMESTAMP NOT NULL,
    user_id            INTEGER NOT NULL REFERENCES core_user (id) ON DELETE CASCADE,
    session_id         VARCHAR(64) REFERENCES core_session (id) ON DELETE SET NULL,
    device_id          VARCHAR(64) NOT NULL,
    device_description TEXT NOT NULL,
    ip_address         TEXT NOT NULL
);
CREATE INDEX idx_login_history_user_time ON login_history (user_id, timestamp);
CREATE INDEX idx_login_history_session ON login_history (session_id);

CREATE TABLE setting (
    key   VARCHAR(254) PRIMARY KEY,
    value TEXT NOT NULL
);

-- people's own: every email is queued here in the transaction that causes it (spec A.4).
CREATE TABLE email_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX idx_email_outbox_due ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;
