-- Issue 17: 97 % of a sent invitation was spent waiting for the account's
-- lock, which every invitation mail of the account takes so that a burst
-- cannot pass the hourly budget. Under the lock, counting the hour's
-- invitation mails in the outbox read every one of them (5,100 rows, 3 ms,
-- at the benchmark's budget). These counts, one row per account and
-- minute, make the check read at most 61 rows whatever the budget.
CREATE TABLE invitation_mail_counts (
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    minute     timestamptz NOT NULL,
    sent       integer NOT NULL,
    PRIMARY KEY (account_id, minute)
);

-- The last hour's invitation mails, so an upgrade does not reset budgets.
INSERT INTO invitation_mail_counts (account_id, minute, sent)
SELECT account_id, date_trunc('minute', created_at), count(*)
FROM mail_outbox
WHERE kind = 'invitation' AND account_id IS NOT NULL AND created_at >= date_trunc('minute', now() - interval '1 hour')
GROUP BY 1, 2;

-- Takes the account's lock, then reads the invitation mails of the last
-- hour (whole minutes: a minute counts until all of it is an hour old)
-- and the recipient's last one, then counts the caller's mail, which is
-- already in the outbox (`queued`). One call, so the lock is held for one
-- round trip, the caller's flash and its commit. A VOLATILE function's
-- statements each take a new snapshot: the reads see what the lock's
-- previous holder committed, where one plain statement would read with a
-- snapshot taken before it waited. Over budget, the caller rolls back,
-- the count included.
CREATE FUNCTION lock_invitation_budget(account uuid, recipient text, queued bigint)
RETURNS TABLE (sent_in_hour bigint, oldest_minute timestamptz, last_to_recipient timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM FROM accounts WHERE id = account FOR NO KEY UPDATE;
    DELETE FROM invitation_mail_counts c
    WHERE c.account_id = account AND c.minute < date_trunc('minute', now() - interval '1 hour');
    RETURN QUERY
        SELECT coalesce(sum(c.sent), 0)::bigint, min(c.minute),
               (SELECT max(o.created_at) FROM mail_outbox o
                WHERE o.to_email = recipient AND o.account_id = account AND o.kind = 'invitation' AND o.id <> queued)
        FROM invitation_mail_counts c
        WHERE c.account_id = account;
    INSERT INTO invitation_mail_counts AS c (account_id, minute, sent)
    VALUES (account, date_trunc('minute', now()), 1)
    ON CONFLICT (account_id, minute) DO UPDATE SET sent = c.sent + 1;
END
$$;
