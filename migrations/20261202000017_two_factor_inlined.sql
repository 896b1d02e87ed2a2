-- has_two_factor() holds sub-selects, and Postgres never inlines a scalar
-- SQL function that does: it runs it as a call of its own for each row.
-- Measured on User Management (issue 17): 0.44 ms of the 0.77 ms that
-- Postgres spent on a page of 50 members went to those calls. A function
-- returning a table is inlined into the query that reads it, its
-- sub-selects becoming plain index probes; lists and the per-request
-- identity check read this one (`CROSS JOIN LATERAL two_factor_of(...)`).
CREATE FUNCTION two_factor_of(login uuid) RETURNS TABLE (enabled boolean) LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM totp_keys WHERE user_id = login AND confirmed_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = login)
$$;

-- One definition: the scalar form, for a single login, reads the same.
CREATE OR REPLACE FUNCTION has_two_factor(login uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT enabled FROM two_factor_of(login)
$$;
