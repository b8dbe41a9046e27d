-- Reports (docs/reports.md): when the executor finished a card's work, the
-- e-mail addresses reports are sent to, and the indexes the reports' period
-- queries read by (sqlite flavour; kept in step with the other).

-- The moment of the closure proposal the contact centre accepted: "closed
-- on time" is this against the deadline (lifecycle::Card::resolved_at).
ALTER TABLE appeals ADD COLUMN resolved_at TEXT;

-- Cards closed (or in verification) before this column existed: the last
-- closure proposal in their history.
UPDATE appeals SET resolved_at = (
    SELECT max(h.at) FROM appeal_history h
    WHERE h.appeal_id = appeals.id AND h.kind = 'closure_proposed')
WHERE status IN ('closed', 'verification');

-- Where a user's reports go (an executor's head gets the daily report).
ALTER TABLE users ADD COLUMN email TEXT;

CREATE INDEX appeals_created_at ON appeals (created_at);
CREATE INDEX appeals_finished_at ON appeals (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX appeals_open ON appeals (deadline) WHERE finished_at IS NULL;
CREATE INDEX appeal_history_kind_at ON appeal_history (kind, at)
    WHERE kind IN ('extension_requested', 'extended', 'moved_to_long_term');
CREATE INDEX verification_attempts_at ON verification_attempts (at);
CREATE INDEX queue_events_kind_at ON queue_events (kind, at);
CREATE INDEX operator_state_changes_at ON operator_state_changes (at);
-- The IVR's self-service steps (an appeal's status read out, outages
-- announced): few among a call's events, so a partial index.
CREATE INDEX call_events_self_service ON call_events (at)
    WHERE kind = 'ivr' AND (detail LIKE '% appeal %' OR detail LIKE '% outages %');
