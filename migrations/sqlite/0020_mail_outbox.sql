-- E-mails to citizens (docs/web.md, "The confirmation"): written with the
-- appeal they confirm, sent by the server in the background through
-- [reports.mail], retried, and kept until the card goes (sqlite flavour;
-- kept in step with the other). A sender claims a row by setting
-- `claimed_until`; a node that dies holding a claim lets it lapse.
CREATE TABLE mail_outbox (
    id            TEXT NOT NULL PRIMARY KEY,
    appeal_id     TEXT REFERENCES appeals (id) ON DELETE CASCADE,
    -- 'appeal_confirmation'.
    kind          TEXT NOT NULL,
    to_address    TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    -- pending (to send or to retry), sent, failed (gave up).
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    created_at    TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       TEXT
) STRICT;
CREATE INDEX mail_outbox_pending ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_appeal ON mail_outbox (appeal_id);
