-- no-transaction
-- The total registration cap counts logins made in the last minute whose
-- address is unconfirmed. A small partial index serves it; built
-- concurrently so a panel with many logins keeps signing people in while
-- it builds (a statement of its own: CONCURRENTLY cannot share one).
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_unconfirmed_created ON users (created_at) WHERE email_verified_at IS NULL;
