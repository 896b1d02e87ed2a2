-- The members API (issue 15): personal API tokens, webhook endpoints and
-- their deliveries, and the note that an invitation's expiry was announced.

-- A login's token for one account. The token carries a grant (All
-- Permissions or a chosen set) and whether it may manage users; at each use
-- it is narrowed to what the login holds in the account then, so it never
-- exceeds its creator. Only the SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    all_permissions boolean NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    manage_users boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    last_used_ip text,
    -- The per-token rate limit: calls counted in a one-minute window,
    -- updated in the same statement that checks the token.
    window_started_at timestamptz NOT NULL DEFAULT now(),
    window_calls integer NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC);
CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at DESC);

-- An owner's HTTPS endpoint. The secret signs deliveries, so it is kept as
-- it is (a hash could not sign); only the account's owner sees it.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url text NOT NULL CHECK (length(url) <= 2000),
    secret text NOT NULL,
    events text[] NOT NULL CHECK (cardinality(events) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when ownership of the account moves: the previous owner's
    -- endpoint gets that event and nothing after it until the new owner
    -- turns it on again.
    disabled_at timestamptz
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, created_at);

-- One event for one endpoint. The worker delivers an endpoint's pending
-- deliveries strictly in id order: a failing one holds the ones after it.
CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    response_status integer,
    last_error text
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id DESC);

-- Set when the janitor has recorded (and announced) that an invitation
-- expired unanswered; each expiry is announced once.
ALTER TABLE invitations ADD COLUMN expiry_noted_at timestamptz;
-- Invitations that expired before this release are not announced now.
UPDATE invitations SET expiry_noted_at = now()
 WHERE expires_at <= now() AND accepted_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX invitations_expiring ON invitations (expires_at)
 WHERE accepted_at IS NULL AND cancelled_at IS NULL AND expiry_noted_at IS NULL;
