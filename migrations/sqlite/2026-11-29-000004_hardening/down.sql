DROP INDEX idx_email_outbox_link_user;
ALTER TABLE email_outbox DROP COLUMN voided_at;
ALTER TABLE email_outbox DROP COLUMN expires_at;
ALTER TABLE email_outbox DROP COLUMN link_token_hash;
ALTER TABLE email_outbox DROP COLUMN link_user_id;
DROP TABLE password_reset_request;
DROP TABLE throttle;
