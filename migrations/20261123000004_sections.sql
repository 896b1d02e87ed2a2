-- The client-area sections behind the thirteen permissions. Money is in
-- integer cents; every table that belongs to an account says so, and every
-- lookup by id is made within the active account.

ALTER TABLE accounts
    ADD COLUMN address   text NOT NULL DEFAULT '' CHECK (length(address) <= 200),
    ADD COLUMN city      text NOT NULL DEFAULT '' CHECK (length(city) <= 100),
    ADD COLUMN region    text NOT NULL DEFAULT '' CHECK (length(region) <= 100),
    ADD COLUMN postcode  text NOT NULL DEFAULT '' CHECK (length(postcode) <= 20),
    ADD COLUMN country   text NOT NULL DEFAULT '' CHECK (length(country) <= 60),
    ADD COLUMN phone     text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
    ADD COLUMN tax_id    text NOT NULL DEFAULT '' CHECK (length(tax_id) <= 40),
    ADD COLUMN credit_cents bigint NOT NULL DEFAULT 0 CHECK (credit_cents >= 0),
    ADD COLUMN referral_code text UNIQUE,
    ADD COLUMN affiliate_balance_cents bigint NOT NULL DEFAULT 0 CHECK (affiliate_balance_cents >= 0);

CREATE TABLE contacts (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email            text NOT NULL CHECK (email = lower(email)),
    phone            text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
    notify_invoices  boolean NOT NULL DEFAULT false,
    notify_domains   boolean NOT NULL DEFAULT false,
    notify_products  boolean NOT NULL DEFAULT false,
    notify_support   boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_account ON contacts (account_id, name);

-- The catalogue the company sells; the same for every account.
CREATE TABLE products (
    id            uuid PRIMARY KEY,
    product_group text NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL,
    monthly_cents bigint NOT NULL CHECK (monthly_cents >= 0),
    sort          int NOT NULL
);
INSERT INTO products (id, product_group, name, description, monthly_cents, sort) VALUES
    ('00000000-0000-4000-8000-000000000001', 'Shared Hosting', 'Starter', '1 website, 10 GB storage', 499, 1),
    ('00000000-0000-4000-8000-000000000002', 'Shared Hosting', 'Business', '10 websites, 50 GB storage', 999, 2),
    ('00000000-0000-4000-8000-000000000003', 'Shared Hosting', 'Unlimited', 'Unlimited websites, 200 GB storage', 1999, 3),
    ('00000000-0000-4000-8000-000000000004', 'VPS', 'VPS 2 GB', '2 vCPU, 2 GB RAM, 40 GB SSD', 1500, 4),
    ('00000000-0000-4000-8000-000000000005', 'VPS', 'VPS 8 GB', '4 vCPU, 8 GB RAM, 160 GB SSD', 4500, 5),
    ('00000000-0000-4000-8000-000000000006', 'Addons', 'Daily Backups', 'Off-site backups kept 30 days', 300, 6);

CREATE TABLE services (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    product_id        uuid NOT NULL REFERENCES products(id),
    parent_id         uuid REFERENCES services(id) ON DELETE CASCADE,
    domain            text NOT NULL,
    status            text NOT NULL CHECK (status IN ('Pending', 'Active', 'Suspended', 'Cancelled')),
    billing_cycle     text NOT NULL CHECK (billing_cycle IN ('Monthly', 'Annually')),
    amount_cents      bigint NOT NULL CHECK (amount_cents >= 0),
    next_due_date     date NOT NULL,
    cancellation      text CHECK (cancellation IN ('Immediate', 'End of Billing Period')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX services_account ON services (account_id, created_at, id);

-- The built-in control panel (what cPanel or Plesk would be): its state.
CREATE TABLE control_panel_logins (
    service_id    uuid PRIMARY KEY REFERENCES services(id) ON DELETE CASCADE,
    username      text NOT NULL,
    password_hash text,
    changed_at    timestamptz
);
CREATE TABLE control_panel_sso (
    token_hash  bytea PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE TABLE domains (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name            text NOT NULL UNIQUE,
    registered_on   date NOT NULL,
    expires_on      date NOT NULL,
    status          text NOT NULL CHECK (status IN ('Active', 'Pending Transfer', 'Expired')),
    auto_renew      boolean NOT NULL DEFAULT true,
    registrar_lock  boolean NOT NULL DEFAULT true,
    nameservers     text[] NOT NULL CHECK (cardinality(nameservers) BETWEEN 2 AND 5),
    epp_code        text,
    whois_name      text NOT NULL DEFAULT '',
    whois_email     text NOT NULL DEFAULT ''
);
CREATE INDEX domains_account ON domains (account_id, name);

CREATE TABLE invoices (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    number      bigserial UNIQUE,
    status      text NOT NULL CHECK (status IN ('Unpaid', 'Paid', 'Cancelled')),
    issued_on   date NOT NULL DEFAULT current_date,
    due_on      date NOT NULL,
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    paid_at     timestamptz,
    CHECK ((status = 'Paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoices_account ON invoices (account_id, issued_on DESC, number DESC);
CREATE TABLE invoice_lines (
    id           bigserial PRIMARY KEY,
    invoice_id   uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    description  text NOT NULL,
    amount_cents bigint NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, id);
CREATE TABLE transactions (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    invoice_id   uuid NOT NULL REFERENCES invoices(id),
    gateway      text NOT NULL,
    reference    text NOT NULL,
    amount_cents bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- An invoice is paid exactly once.
    UNIQUE (invoice_id)
);

CREATE TABLE quotes (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    number      bigserial UNIQUE,
    subject     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('Open', 'Accepted')),
    valid_until date NOT NULL,
    total_cents bigint NOT NULL,
    accepted_at timestamptz,
    invoice_id  uuid REFERENCES invoices(id)
);
CREATE INDEX quotes_account ON quotes (account_id, number DESC);
CREATE TABLE quote_lines (
    id           bigserial PRIMARY KEY,
    quote_id     uuid NOT NULL REFERENCES quotes(id) ON DELETE CASCADE,
    description  text NOT NULL,
    amount_cents bigint NOT NULL
);

CREATE TABLE tickets (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    number      bigserial UNIQUE,
    department  text NOT NULL CHECK (department IN ('Support', 'Billing', 'Sales')),
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    status      text NOT NULL CHECK (status IN ('Open', 'Answered', 'Customer-Reply', 'Closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_account ON tickets (account_id, updated_at DESC, id);
CREATE INDEX tickets_open ON tickets (updated_at DESC) WHERE status <> 'Closed';
CREATE TABLE ticket_messages (
    id         bigserial PRIMARY KEY,
    ticket_id  uuid NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_id  uuid REFERENCES users(id) ON DELETE SET NULL,
    from_staff boolean NOT NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

CREATE TABLE referrals (
    id               bigserial PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    referred_name    text NOT NULL,
    signed_up_on     date NOT NULL,
    commission_cents bigint NOT NULL,
    status           text NOT NULL CHECK (status IN ('Pending', 'Cleared'))
);
CREATE INDEX referrals_account ON referrals (account_id, id DESC);
CREATE TABLE withdrawals (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    status       text NOT NULL DEFAULT 'Requested' CHECK (status IN ('Requested', 'Paid')),
    requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX withdrawals_account ON withdrawals (account_id, requested_at DESC);

-- Which invoice pays for which ordered service (it starts once paid).
CREATE TABLE order_invoices (
    invoice_id uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    service_id uuid NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (invoice_id, service_id)
);

-- An upgrade that costs more waits for its invoice to be paid.
CREATE TABLE pending_upgrades (
    invoice_id   uuid PRIMARY KEY REFERENCES invoices(id) ON DELETE CASCADE,
    service_id   uuid NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    product_id   uuid NOT NULL REFERENCES products(id),
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0)
);
