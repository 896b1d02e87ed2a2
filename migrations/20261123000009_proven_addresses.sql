-- Mail goes only to addresses that proved they receive it (issue 13).
-- Logins and contacts that existed before this migration count as proven:
-- they have been receiving the panel's mail, and stopping every existing
-- customer's invoices at an upgrade would hurt more than it protects. New
-- ones prove themselves through a mailed link.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
ALTER TABLE contacts ADD COLUMN confirmed_at timestamptz;
UPDATE contacts SET confirmed_at = created_at;

-- A mailed link that proves an address: a login's or a contact's, never
-- both. `email` is the address the link went to: if the login's or the
-- contact's address changed since, the link proves nothing.
CREATE TABLE address_confirmations (
    token_hash bytea PRIMARY KEY,
    user_id    uuid REFERENCES users(id) ON DELETE CASCADE,
    contact_id uuid REFERENCES contacts(id) ON DELETE CASCADE,
    email      text NOT NULL,
    -- Where a new login goes once its address is confirmed.
    next       text NOT NULL DEFAULT '/',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CHECK ((user_id IS NULL) <> (contact_id IS NULL))
);
CREATE INDEX address_confirmations_user ON address_confirmations (user_id);
CREATE INDEX address_confirmations_contact ON address_confirmations (contact_id);

-- Confirmation mail (a new login's link, "someone tried to register with
-- your address", a contact's confirmation) is its own kind: it may go to an
-- address not yet proven, and is budgeted.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox
    ADD CONSTRAINT mail_outbox_kind_check CHECK (kind IN ('invitation', 'notice', 'account', 'auth', 'confirmation'));
CREATE INDEX mail_outbox_to ON mail_outbox (to_email, created_at);
