-- Access that ends on a date (issue 16): a membership (and the invitation
-- that makes it) may carry the moment it stops. The member's first request
-- after it finds the account closed; the row stays, so the owner can
-- extend it (or remove it) and the member list can say when it ended.
ALTER TABLE memberships
    ADD COLUMN access_until timestamptz,
    -- The "ends in three days" and "has ended" mails, once each per date.
    ADD COLUMN ending_mailed_at timestamptz,
    ADD COLUMN ended_mailed_at timestamptz;
ALTER TABLE invitations ADD COLUMN access_until timestamptz;
CREATE INDEX memberships_access_until ON memberships (access_until) WHERE access_until IS NOT NULL;
