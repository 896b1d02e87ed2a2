-- Switch Account's search (issue 17): trigram indexes let "contains"
-- searches on account names and owner names find their few matches
-- directly, instead of walking every account the login can reach and
-- testing each. pg_trgm ships with Postgres (Debian's postgresql package,
-- and every managed Postgres) and is a trusted extension since
-- Postgres 13, so a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_name_trgm ON accounts USING gin (name gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (name gin_trgm_ops);
