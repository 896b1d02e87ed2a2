-- Whether a login signs in with a second step: one definition for the
-- session loader, Switch Account, accepting and the member list (a later
-- way of signing in with two factors changes only this function).
CREATE FUNCTION has_two_factor(login uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM totp_keys WHERE user_id = login AND confirmed_at IS NOT NULL)
$$;
