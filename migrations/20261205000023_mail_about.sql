-- The service, domain or ticket a notice is about: View Emails shows it
-- only to members whose scope reaches it. Nullable with no default, so
-- adding it rewrites nothing on a large outbox.
ALTER TABLE mail_outbox ADD COLUMN about uuid;
