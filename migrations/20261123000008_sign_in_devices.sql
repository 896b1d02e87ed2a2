-- Browsers that signed in successfully before: the account-wide sign-in
-- limit never stops them, so failures from elsewhere cannot lock the owner out.
CREATE TABLE known_devices (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_devices_user ON known_devices (user_id);

-- One-time sign-in links, offered when the account-wide limit stops a
-- browser it does not know.
CREATE TABLE sign_in_links (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX sign_in_links_user ON sign_in_links (user_id, created_at);
