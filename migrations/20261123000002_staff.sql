-- Support staff may open the client area as a client ("sign in as"):
-- such a session belongs to the client and names the staff member behind it.
ALTER TABLE sessions ADD COLUMN impersonator_id uuid REFERENCES users(id) ON DELETE CASCADE;

-- Staff search clients by name and email; accounts by name.
CREATE INDEX users_name_lower ON users (lower(name) text_pattern_ops);
CREATE INDEX accounts_name_lower ON accounts (lower(name) text_pattern_ops);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id DESC);
CREATE INDEX audit_events_action ON audit_events (action, id DESC);
CREATE INDEX mail_outbox_failed ON mail_outbox (id DESC) WHERE status = 'failed';

-- The secret a queued mail carries (a reset or invitation token): blanked
-- from the stored bodies once the mail is sent, so the outbox (also the
-- account's email history) never holds a working link after delivery.
ALTER TABLE mail_outbox ADD COLUMN secret text;
