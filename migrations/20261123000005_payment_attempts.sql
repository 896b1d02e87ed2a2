-- Paying through a gateway happens in two steps around the gateway's call:
-- a pending attempt with its idempotency key is written first, and the
-- payment completes after the gateway answers. A retry (after a crash, a
-- lost answer or a second click) reuses the pending attempt's key, so the
-- gateway charges at most once and nothing is marked paid without a charge.
CREATE TABLE payment_attempts (
    -- Also the idempotency key sent to the gateway.
    id           uuid PRIMARY KEY,
    invoice_id   uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    gateway      text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'declined')),
    reference    text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CHECK ((status = 'completed') = (reference IS NOT NULL))
);
-- At most one attempt in flight per invoice.
CREATE UNIQUE INDEX payment_attempts_one_pending ON payment_attempts (invoice_id) WHERE status = 'pending';

-- The built-in test gateway's own ledger: one charge per idempotency key
-- (a real gateway keeps this on its side).
CREATE TABLE test_gateway_charges (
    idempotency_key uuid PRIMARY KEY,
    reference       text NOT NULL,
    amount_cents    bigint NOT NULL,
    charged_at      timestamptz NOT NULL DEFAULT now()
);
