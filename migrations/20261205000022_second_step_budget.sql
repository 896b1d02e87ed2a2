-- A second step begun from a mailed link (a sign-in link or a password
-- reset) proves the mailbox: it is held to a budget of its own, counted on
-- the half-signed-in session, instead of the login's sign-in limits that a
-- stranger can fill from many addresses.
ALTER TABLE sessions
    ADD COLUMN mailbox_proven boolean NOT NULL DEFAULT false,
    ADD COLUMN second_step_failures integer NOT NULL DEFAULT 0;

-- Wrong codes at the second step: the password was right. The login is
-- mailed about them (at most once an hour) and its Security page lists them.
CREATE TABLE second_step_failures (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    told boolean NOT NULL DEFAULT false
);
CREATE INDEX second_step_failures_user ON second_step_failures (user_id, at);

-- When the login was last mailed about failed second steps.
ALTER TABLE users ADD COLUMN second_step_told_at timestamptz;
