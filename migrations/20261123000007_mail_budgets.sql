-- What caused each mail, so an account's mail can be budgeted by kind:
-- invitation (invitations and resends), notice (notices to the owner and
-- contacts about the account's activity), account (mail about the account
-- itself: accepted, declined, ownership) and auth (resets, sign-in links).
ALTER TABLE mail_outbox
    ADD COLUMN kind text NOT NULL DEFAULT 'account' CHECK (kind IN ('invitation', 'notice', 'account', 'auth'));
CREATE INDEX mail_outbox_budget ON mail_outbox (account_id, kind, created_at);

-- Registration attempts per client address, counted before any hashing.
CREATE TABLE registration_attempts (
    id bigserial PRIMARY KEY,
    ip text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_attempts_ip ON registration_attempts (ip, at);

-- Every account gets its referral code when it is created, so opening the
-- Affiliates page (a GET) never writes.
ALTER TABLE accounts ALTER COLUMN referral_code SET DEFAULT substr(md5(gen_random_uuid()::text), 1, 10);
UPDATE accounts SET referral_code = substr(md5(gen_random_uuid()::text), 1, 10) WHERE referral_code IS NULL;
