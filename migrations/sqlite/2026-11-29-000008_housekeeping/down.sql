DROP INDEX idx_email_outbox_done_at;
DROP INDEX idx_login_history_timestamp;
DROP INDEX idx_core_session_created_at;
DROP TABLE housekeeping_lease;
