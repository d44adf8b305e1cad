DROP TABLE email_outbox;
DROP TABLE setting;
DROP TABLE login_history;
DROP TABLE core_session;
DROP TABLE permissions_group_membership;
DROP TABLE permissions_group;
DROP TABLE core_user;
