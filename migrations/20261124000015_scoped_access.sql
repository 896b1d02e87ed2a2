-- Access to chosen services and domains only (issue 16). `scope` NULL is
-- "All services and domains"; otherwise it lists the service and domain
-- ids the member reaches (on top of their permissions). An invitation
-- carries the scope its membership will have.
ALTER TABLE memberships ADD COLUMN scope uuid[];
ALTER TABLE invitations ADD COLUMN scope uuid[];

-- A support ticket may be about one service or one domain; a scoped member
-- sees the tickets about what is in their scope.
ALTER TABLE tickets
    ADD COLUMN service_id uuid REFERENCES services(id) ON DELETE SET NULL,
    ADD COLUMN domain_id uuid REFERENCES domains(id) ON DELETE SET NULL;

-- The one place the scope is applied: every section reads services,
-- domains and tickets through these (plain SQL functions, which Postgres
-- inlines, so the account indexes are used as before).
CREATE FUNCTION visible_services(account uuid, scope uuid[]) RETURNS SETOF services
LANGUAGE sql STABLE AS $$
    SELECT * FROM services WHERE account_id = account AND (scope IS NULL OR id = ANY (scope))
$$;

CREATE FUNCTION visible_domains(account uuid, scope uuid[]) RETURNS SETOF domains
LANGUAGE sql STABLE AS $$
    SELECT * FROM domains WHERE account_id = account AND (scope IS NULL OR id = ANY (scope))
$$;

CREATE FUNCTION visible_tickets(account uuid, scope uuid[]) RETURNS SETOF tickets
LANGUAGE sql STABLE AS $$
    SELECT * FROM tickets
    WHERE account_id = account AND (scope IS NULL OR service_id = ANY (scope) OR domain_id = ANY (scope))
$$;
