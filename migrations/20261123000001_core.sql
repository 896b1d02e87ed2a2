-- Core schema: identities, accounts and who may use them, invitations,
-- sessions, audit trail and the mail outbox. Rules that protect data live
-- here as constraints, so no code path can break them.

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    -- Stored normalised; the CHECK makes "unique" mean "unique ignoring case".
    email           text NOT NULL CHECK (email = lower(btrim(email)) AND email <> ''),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash   text NOT NULL,
    is_staff        boolean NOT NULL DEFAULT false,
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE accounts (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The thirteen permission keys; "all" is its own flag so that a permission
-- added later is granted to every all-permissions member too.
CREATE FUNCTION permission_keys() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['profile','contacts','products','manageproducts','productsso',
                 'domains','managedomains','invoices','quotes','tickets',
                 'affiliates','emails','orders']::text[]
$$;

CREATE TABLE memberships (
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_owner        boolean NOT NULL DEFAULT false,
    all_permissions boolean NOT NULL DEFAULT false,
    permissions     text[] NOT NULL DEFAULT '{}' CHECK (permissions <@ permission_keys()),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id),
    -- A member has either all permissions or at least one chosen one.
    CHECK (is_owner OR all_permissions OR cardinality(permissions) > 0)
);
CREATE UNIQUE INDEX memberships_one_owner ON memberships (account_id) WHERE is_owner;
-- Switch Account lists a user's accounts: served from this index.
CREATE INDEX memberships_user ON memberships (user_id, account_id);
-- User Management lists an account's members in date order, page by page.
CREATE INDEX memberships_account_created ON memberships (account_id, created_at, user_id);

-- Every account has exactly one owner at the end of every transaction.
CREATE FUNCTION check_account_has_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE acc uuid;
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN acc := NEW.id; ELSE acc := OLD.account_id; END IF;
    IF EXISTS (SELECT 1 FROM accounts WHERE id = acc)
       AND NOT EXISTS (SELECT 1 FROM memberships WHERE account_id = acc AND is_owner) THEN
        RAISE EXCEPTION 'account % has no owner', acc USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER accounts_have_owner AFTER INSERT ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_account_has_owner();
CREATE CONSTRAINT TRIGGER memberships_keep_owner AFTER UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_account_has_owner();

CREATE TABLE invitations (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(btrim(email)) AND email <> ''),
    -- SHA-256 of the secret token; the token itself is only ever in the mail.
    token_hash      bytea NOT NULL UNIQUE,
    all_permissions boolean NOT NULL,
    permissions     text[] NOT NULL DEFAULT '{}' CHECK (permissions <@ permission_keys()),
    invited_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    cancelled_at    timestamptz,
    CHECK (all_permissions OR cardinality(permissions) > 0),
    CHECK (accepted_at IS NULL OR cancelled_at IS NULL)
);
-- At most one open invitation per address and account.
CREATE UNIQUE INDEX invitations_one_open ON invitations (account_id, email)
    WHERE accepted_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX invitations_account_sent ON invitations (account_id, sent_at DESC, id);

CREATE TABLE sessions (
    id                uuid PRIMARY KEY,
    -- SHA-256 of the cookie's value: a copy of this table opens no session.
    token_hash        bytea NOT NULL UNIQUE,
    user_id           uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    active_account_id uuid REFERENCES accounts(id) ON DELETE SET NULL,
    csrf_token        text NOT NULL,
    flash             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    ip                text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Sign-in attempts, kept for rate limiting (shared by every server copy).
CREATE TABLE sign_in_attempts (
    id      bigserial PRIMARY KEY,
    ip      text NOT NULL,
    email   text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    success boolean NOT NULL
);
CREATE INDEX sign_in_attempts_ip ON sign_in_attempts (ip, at) WHERE NOT success;
CREATE INDEX sign_in_attempts_email ON sign_in_attempts (email, at) WHERE NOT success;

CREATE TABLE audit_events (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     uuid REFERENCES users(id) ON DELETE SET NULL,
    account_id   uuid REFERENCES accounts(id) ON DELETE CASCADE,
    target_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
    target_email text,
    action       text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    ip           text
);
CREATE INDEX audit_events_account ON audit_events (account_id, id DESC);

CREATE TABLE mail_outbox (
    id              bigserial PRIMARY KEY,
    -- The account the mail is about: its "View Emails" history.
    account_id      uuid REFERENCES accounts(id) ON DELETE SET NULL,
    to_email        text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX mail_outbox_account ON mail_outbox (account_id, id DESC);
