-- Passkeys (WebAuthn): each named, removable; a login may have several.
-- `passkey` is webauthn-rs's own record of the credential (public key,
-- counter), kept as it serialises it.
CREATE TABLE passkeys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    credential_id bytea NOT NULL UNIQUE,
    passkey       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony under way (adding a passkey, or signing in with one):
-- the challenge webauthn-rs must check the browser's answer against. The
-- browser holds the token in a short-lived cookie; each is used once.
CREATE TABLE webauthn_ceremonies (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('register', 'authenticate')),
    passkey_name text,
    state        jsonb NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION has_two_factor(login uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM totp_keys WHERE user_id = login AND confirmed_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = login)
$$;
