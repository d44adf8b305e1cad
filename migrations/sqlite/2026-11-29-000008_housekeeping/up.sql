-- Housekeeping (docs/operations.md, "Housekeeping"): one lease row that replicas claim in turn, so that a
-- run is done by one replica at a time, and indexes that let each run find the expired rows of a table
-- without scanning it.

-- The lease: `holder` may work until `expires_at`. A replica claims the row with an UPDATE … WHERE
-- expires_at <= now, renews it with every batch it deletes, and when it finishes sets `expires_at` to the
-- time of the next run.
CREATE TABLE housekeeping_lease (
    name       VARCHAR(64) PRIMARY KEY,
    holder     VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
INSERT INTO housekeeping_lease (name, holder, expires_at) VALUES ('housekeeping', '', '1970-01-01 00:00:00');

CREATE INDEX idx_core_session_created_at ON core_session (created_at);
CREATE INDEX idx_login_history_timestamp ON login_history (timestamp);
-- Sent emails by when they were sent, voided ones by when they were voided; unsent ones are NULL.
CREATE INDEX idx_email_outbox_done_at ON email_outbox (coalesce(sent_at, voided_at));
