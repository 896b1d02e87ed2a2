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
-- not rewrite them all when one more joins). The account and its owner
-- may be written by the same statement, and not be visible yet: the
-- owner trigger below fills the names in when the statement ends.
CREATE FUNCTION memberships_search_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := coalesce(membership_search(NEW.account_id), '');
    RETURN NEW;
END
$$;
CREATE TRIGGER memberships_search_on_insert BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_search_on_insert();

-- A new owner, an account renamed, an owner renamed: every membership of
-- the account takes the new names (looked up once, not once a row).
CREATE FUNCTION refresh_membership_search(account uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE memberships SET search = (SELECT coalesce(membership_search(account), ''))
    WHERE account_id = account
$$;

CREATE FUNCTION memberships_search_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'memberships' THEN
        PERFORM refresh_membership_search(NEW.account_id);
    ELSIF TG_TABLE_NAME = 'accounts' THEN
        PERFORM refresh_membership_search(NEW.id);
    ELSE
        PERFORM refresh_membership_search(account_id) FROM memberships WHERE user_id = NEW.id AND is_owner;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_search_owner AFTER INSERT OR UPDATE OF is_owner ON memberships
    FOR EACH ROW WHEN (NEW.is_owner) EXECUTE FUNCTION memberships_search_refresh();
CREATE TRIGGER memberships_search_account AFTER UPDATE OF name ON accounts
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION memberships_search_refresh();
CREATE TRIGGER memberships_search_owner_name AFTER UPDATE OF name ON users
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION memberships_search_refresh();
