-- How an invitation ended, beyond accepted and cancelled. A declined or
-- replaced invitation also has cancelled_at set, so every "is it still
-- open" condition (and the one-open-invitation index) stays as it was.
ALTER TABLE invitations
    ADD COLUMN declined_at timestamptz,
    -- The newer invitation to the same address that took this one's place.
    ADD COLUMN replaced_by uuid REFERENCES invitations(id) ON DELETE SET NULL,
    ADD CONSTRAINT invitations_declined_is_closed CHECK (declined_at IS NULL OR cancelled_at IS NOT NULL),
    ADD CONSTRAINT invitations_replaced_is_closed CHECK (replaced_by IS NULL OR cancelled_at IS NOT NULL);

-- The links a resend made obsolete, so an old link can say that a newer
-- invitation was sent (and when) instead of "not valid".
CREATE TABLE invitation_old_tokens (
    token_hash    bytea PRIMARY KEY,
    invitation_id uuid NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    replaced_at   timestamptz NOT NULL DEFAULT now()
);

