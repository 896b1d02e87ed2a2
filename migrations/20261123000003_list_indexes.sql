-- Indexes that match the lists' sort orders exactly, so a page is read
-- straight off the index whatever the table's size (measured by bench/run).
DROP INDEX invitations_account_sent;
CREATE INDEX invitations_account_sent ON invitations (account_id, sent_at DESC, id DESC);
-- Switch Account: own accounts first, then in the order they were joined.
DROP INDEX memberships_user;
CREATE INDEX memberships_user_order ON memberships (user_id, (NOT is_owner), created_at, account_id);
-- Registrations per address in the last hour (the sign-up limit).
CREATE INDEX audit_events_registrations ON audit_events (ip, at) WHERE action = 'user.registered';
