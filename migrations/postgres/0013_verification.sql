-- Verification (docs/lifecycle.md, "Verification"): the control rule's
-- facts on the card, the attempts to ask the citizen whatever the channel,
-- and outbound calls on file beside inbound ones (postgres flavour; kept in
-- step with the other).

-- An emergency-class card: always verified (000 §4.2.1.1 а).
ALTER TABLE appeals ADD COLUMN emergency boolean NOT NULL DEFAULT false;
-- Marked contested by the staff: its closure is verified (000 §4.2.1.2 б).
ALTER TABLE appeals ADD COLUMN contested boolean NOT NULL DEFAULT false;
-- Under the analytics staff's direct control (000 §4.1.4).
ALTER TABLE appeals ADD COLUMN direct_control boolean NOT NULL DEFAULT false;
-- While in verification: who asks next (verification::Mode), attempts so
-- far in that mode, not before when.
ALTER TABLE appeals ADD COLUMN verify_mode text;
ALTER TABLE appeals ADD COLUMN verify_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN verify_next_at timestamptz;

UPDATE appeals SET emergency = true WHERE category_id IN
    (SELECT id FROM classifier_categories WHERE deadline_class = 'emergency');

CREATE INDEX appeals_verification ON appeals (verify_mode, verify_next_at)
    WHERE verify_mode IS NOT NULL;
CREATE INDEX appeals_direct_control ON appeals (created_at) WHERE direct_control;
CREATE INDEX appeals_repeat_of ON appeals (repeat_of) WHERE repeat_of IS NOT NULL;

-- Every attempt to ask a citizen whether the work was done: by an
-- operator, an automated call or the chat-bot. Confirmation rates are
-- counted from here.
CREATE TABLE verification_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id     uuid        NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    -- The lead executor whose work was asked about.
    executor_code text        NOT NULL,
    at            timestamptz NOT NULL,
    -- verification::Channel.
    channel       text        NOT NULL,
    -- verification::AttemptResult.
    result        text        NOT NULL,
    rating        integer CONSTRAINT verification_rating CHECK (rating BETWEEN 1 AND 5),
    reason        text,
    -- The operator, or 'system'.
    login         text        NOT NULL,
    user_id       uuid        REFERENCES users (id) ON DELETE SET NULL,
    -- The call that asked, if one did.
    call_id       uuid        REFERENCES calls (id) ON DELETE SET NULL
);

CREATE INDEX verification_attempts_appeal ON verification_attempts (appeal_id, id);
CREATE INDEX verification_attempts_rates ON verification_attempts (executor_code, at);

-- Calls we place (verification call-backs) beside those we answer.
ALTER TABLE calls ADD COLUMN direction text NOT NULL DEFAULT 'inbound';
