-- Verification (docs/lifecycle.md, "Verification"): the control rule's
-- facts on the card, the attempts to ask the citizen whatever the channel,
-- and outbound calls on file beside inbound ones (sqlite flavour; kept in
-- step with the other).

-- An emergency-class card: always verified (000 §4.2.1.1 а).
ALTER TABLE appeals ADD COLUMN emergency INTEGER NOT NULL DEFAULT 0;
-- Marked contested by the staff: its closure is verified (000 §4.2.1.2 б).
ALTER TABLE appeals ADD COLUMN contested INTEGER NOT NULL DEFAULT 0;
-- Under the analytics staff's direct control (000 §4.1.4).
ALTER TABLE appeals ADD COLUMN direct_control INTEGER NOT NULL DEFAULT 0;
-- While in verification: who asks next (verification::Mode), attempts so
-- far in that mode, not before when.
ALTER TABLE appeals ADD COLUMN verify_mode TEXT;
ALTER TABLE appeals ADD COLUMN verify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN verify_next_at TEXT;

UPDATE appeals SET emergency = 1 WHERE category_id IN
    (SELECT id FROM classifier_categories WHERE deadline_class = 'emergency');

CREATE INDEX appeals_verification ON appeals (verify_mode, verify_next_at)
    WHERE verify_mode IS NOT NULL;
CREATE INDEX appeals_direct_control ON appeals (created_at) WHERE direct_control = 1;
CREATE INDEX appeals_repeat_of ON appeals (repeat_of) WHERE repeat_of IS NOT NULL;

-- Every attempt to ask a citizen whether the work was done: by an
-- operator, an automated call or the chat-bot. Confirmation rates are
-- counted from here.
CREATE TABLE verification_attempts (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    appeal_id     TEXT    NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    -- The lead executor whose work was asked about.
    executor_code TEXT    NOT NULL,
    at            TEXT    NOT NULL,
    -- verification::Channel.
    channel       TEXT    NOT NULL,
    -- verification::AttemptResult.
    result        TEXT    NOT NULL,
    rating        INTEGER CONSTRAINT verification_rating CHECK (rating BETWEEN 1 AND 5),
    reason        TEXT,
    -- The operator, or 'system'.
    login         TEXT    NOT NULL,
    user_id       TEXT    REFERENCES users (id) ON DELETE SET NULL,
    -- The call that asked, if one did.
    call_id       TEXT    REFERENCES calls (id) ON DELETE SET NULL
) STRICT;

CREATE INDEX verification_attempts_appeal ON verification_attempts (appeal_id, id);
CREATE INDEX verification_attempts_rates ON verification_attempts (executor_code, at);

-- Calls we place (verification call-backs) beside those we answer.
ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound';
