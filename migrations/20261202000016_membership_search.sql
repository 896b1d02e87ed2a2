-- Switch Account search (issue 17). A reseller with thousands of accounts
-- searches account and owner names; testing each membership by joining
-- both names cost 17 ms a search at 5,000 accounts. Each membership now
-- carries those two names, lower-cased, in one column, kept by the
-- triggers below, and a trigram index over (user, names) finds the
-- matches without the joins. Both extensions ship with Postgres and are
-- "trusted", so the database's owner may create them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- A line break between the names: no name holds one, so a search cannot
-- match across the two.
CREATE FUNCTION membership_search(account uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT lower(a.name || E'\n' || coalesce(o.name, ''))
    FROM accounts a
    LEFT JOIN memberships om ON om.account_id = a.id AND om.is_owner
    LEFT JOIN users o ON o.id = om.user_id
    WHERE a.id = account
$$;

ALTER TABLE memberships ADD COLUMN search text NOT NULL DEFAULT '';
UPDATE memberships SET search = coalesce(membership_search(account_id), '');
-- Without the pending list: memberships are written seldom, and a search
-- would otherwise also read, one by one, every entry not yet merged.
CREATE INDEX memberships_search ON memberships USING gin (user_id, search gin_trgm_ops) WITH (fastupdate = off);

-- A new membership: its own row only (an account of 10,000 members must
-- not rewrite them all when one more joins). The account's row is share-
-- locked first: a change of owner or a rename under way (which hold it,
-- see below) finishes before the names are read, so they are never stale.
-- The account and its owner may be written by the same statement, and not
-- be visible yet: the owner trigger below fills the names in when the
-- statement ends.
CREATE FUNCTION memberships_search_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE id = NEW.account_id FOR SHARE;
    NEW.search := coalesce(membership_search(NEW.account_id), '');
    RETURN NEW;
END
$$;
CREATE TRIGGER memberships_search_on_insert BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_search_on_insert();

-- A new owner, an account renamed, an owner renamed: every membership of
-- the account takes the new names (looked up once, not once a row), with
-- the account's row locked against new memberships reading the old ones
-- (a change of owner and a rename of the account hold it already). Rows
-- already right are left alone, so they are neither locked nor rewritten.
CREATE FUNCTION refresh_membership_search(account uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    names text;
BEGIN
    PERFORM 1 FROM accounts WHERE id = account FOR NO KEY UPDATE;
    names := coalesce(membership_search(account), '');
    UPDATE memberships SET search = names WHERE account_id = account AND search IS DISTINCT FROM names;
END
$$;

CREATE FUNCTION memberships_search_new_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_membership_search(NEW.account_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_search_owner AFTER INSERT OR UPDATE OF is_owner ON memberships
    FOR EACH ROW WHEN (NEW.is_owner) EXECUTE FUNCTION memberships_search_new_owner();

CREATE FUNCTION memberships_search_account_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_membership_search(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_search_account AFTER UPDATE OF name ON accounts
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION memberships_search_account_renamed();

CREATE FUNCTION memberships_search_owner_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_membership_search(account_id) FROM memberships WHERE user_id = NEW.id AND is_owner;
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_search_owner_name AFTER UPDATE OF name ON users
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION memberships_search_owner_renamed();

-- The one-owner check only needs to run when an owner can change: a
-- search column rewritten must not queue a check for every row.
DROP TRIGGER memberships_keep_owner ON memberships;
CREATE CONSTRAINT TRIGGER memberships_keep_owner AFTER UPDATE OF is_owner, account_id OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_account_has_owner();
