-- Hardening (docs/operations.md, "Limits"): throttle counters shared by every replica, password-reset asks
-- handled off the request path, and reset/invite links in the outbox tied to the token they carry.

-- One row per throttle and key: the recent attempts, newest first, as epoch milliseconds separated by commas
-- (at most a bounded number of them). Keys are lower-cased by the database, as the email lookup does.
CREATE TABLE throttle (
    throttle   VARCHAR(32) NOT NULL,
    key        TEXT NOT NULL,
    attempts   TEXT NOT NULL,
    -- When the newest attempt leaves the throttle's window: the row can be deleted from then on.
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (throttle, key)
);
CREATE INDEX idx_throttle_expires ON throttle (expires_at);

-- POST /api/session/forgot_password records the ask here and answers; a background worker finds the user,
-- issues the token and queues the email, so the request takes the same time for every address.
CREATE TABLE password_reset_request (
    id           BIGSERIAL PRIMARY KEY,
    email        TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);

-- An email carrying a reset or invite link names the user and the SHA-256 of the token it carries: it is
-- blanked and never sent once that token is replaced, used, cleared or expired.
ALTER TABLE email_outbox ADD COLUMN link_user_id INTEGER;
ALTER TABLE email_outbox ADD COLUMN link_token_hash VARCHAR(64);
ALTER TABLE email_outbox ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE email_outbox ADD COLUMN voided_at TIMESTAMP;
CREATE INDEX idx_email_outbox_link_user ON email_outbox (link_user_id) WHERE sent_at IS NULL AND voided_at IS NULL;
