-- Two-factor sign-in (issue 14): an authenticator app (TOTP), recovery
-- codes, and half-signed-in sessions that reach only the second step.

-- The shared key must be readable to compute codes, so it cannot be
-- hashed. `last_step` is the time step of the last accepted code: a code is
-- accepted once (RFC 6238 section 5.2). Unconfirmed while being set up.
CREATE TABLE totp_keys (
    user_id      uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       bytea NOT NULL CHECK (length(secret) >= 16),
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Single-use codes for when the app is lost; stored as SHA-256 (each has
-- 80 random bits, so a plain hash cannot be guessed back).
CREATE TABLE recovery_codes (
    id        bigserial PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A session whose password (or mailed link) was right but whose second
-- step is still due: it opens nothing but that step, for 5 minutes. Where
-- it goes afterwards, and whether the browser is then remembered.
ALTER TABLE sessions
    ADD COLUMN second_step_due boolean NOT NULL DEFAULT false,
    ADD COLUMN next_path text,
    ADD COLUMN remember_device boolean NOT NULL DEFAULT false,
    ADD COLUMN user_agent text CHECK (length(user_agent) <= 300);

-- The owner's rule: everyone with access uses two-factor sign-in.
ALTER TABLE accounts ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;
