-- E-mails to citizens (docs/web.md, "The confirmation"): written with the
-- appeal they confirm, sent by the server in the background through
-- [reports.mail], retried, and kept until the card goes (postgres flavour;
-- kept in step with the other). A sender claims a row by setting
-- `claimed_until`; a node that dies holding a claim lets it lapse.
CREATE TABLE mail_outbox (
    id uuid PRIMARY KEY,
    appeal_id uuid REFERENCES appeals (id) ON DELETE CASCADE,
    -- 'appeal_confirmation'.
    kind text NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    -- pending (to send or to retry), sent, failed (gave up).
    status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    claimed_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at timestamptz
);
CREATE INDEX mail_outbox_pending ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_appeal ON mail_outbox (appeal_id);
