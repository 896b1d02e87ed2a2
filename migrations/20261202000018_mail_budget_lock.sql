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
-- hour and the recipient's last one, then counts the caller's mail, which
-- is already in the outbox (`queued`; counted even if it was not queued,
-- so the budget fails closed). One call, so the lock is held for it and
-- what is left of the caller's transaction (the flash, or the API's
-- answer) and the commit. In READ COMMITTED (the panel's level), a
-- VOLATILE function's statements each take a new snapshot: the reads see
-- what the lock's previous holder committed, where one plain statement
-- would read with a snapshot taken before it waited. NO KEY UPDATE: the
-- caller's invitation holds a key-share lock on the account through its
-- foreign key, which FOR UPDATE would wait on, deadlocking two
-- invitations at once.
--
-- A minute counts until all of it is an hour old. `full_until` is set
-- when the account has used its `budget`: the end of the hour of the
-- minute whose leaving brings the count back under it. Over budget, the
-- caller rolls back, this count included.
CREATE FUNCTION lock_invitation_budget(account uuid, recipient text, queued bigint, budget bigint)
RETURNS TABLE (full_until timestamptz, last_to_recipient timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM FROM accounts WHERE id = account FOR NO KEY UPDATE;
    -- An hour past the window: no transaction, however long it waited for
    -- the lock (its now() is when it began), still counts these.
    DELETE FROM invitation_mail_counts c
    WHERE c.account_id = account AND c.minute < date_trunc('minute', now() - interval '2 hours');
    RETURN QUERY
        SELECT (SELECT w.minute + interval '61 minutes'
                FROM (SELECT c.minute, sum(c.sent) OVER (ORDER BY c.minute DESC) AS newer
                      FROM invitation_mail_counts c
                      WHERE c.account_id = account AND c.minute >= date_trunc('minute', now() - interval '1 hour')) w
                WHERE w.newer >= budget
                ORDER BY w.minute DESC
                LIMIT 1),
               (SELECT max(o.created_at) FROM mail_outbox o
                WHERE o.to_email = recipient AND o.account_id = account AND o.kind = 'invitation'
                  AND o.id IS DISTINCT FROM queued);
    INSERT INTO invitation_mail_counts AS c (account_id, minute, sent)
    VALUES (account, date_trunc('minute', now()), 1)
    ON CONFLICT (account_id, minute) DO UPDATE SET sent = c.sent + 1;
END
$$;
