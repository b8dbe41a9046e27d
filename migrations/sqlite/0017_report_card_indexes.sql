-- The reports' counts of cards (docs/reports.md, "The indicators") read
-- from indexes that hold every column they need, in group order: the
-- database counts executor by executor, category by category, channel by
-- channel without visiting the cards themselves or sorting a year's cards
-- (SQLite, knowing the groups' sizes from ANALYZE, also skips to each
-- group's part of the period; without that, or on PostgreSQL, the index is
-- read whole, a million short entries) (sqlite flavour;
-- kept in step with the other).

-- Registered in a period.
CREATE INDEX appeals_report_received
    ON appeals (executor, category_id, channel, created_at, repeat_of);
-- Closed in a period: on time or late, and the time to close.
CREATE INDEX appeals_report_closed
    ON appeals (status, executor, category_id, channel, finished_at, created_at, resolved_at, deadline)
    WHERE finished_at IS NOT NULL;
-- Open now, and overdue among them.
CREATE INDEX appeals_report_open
    ON appeals (executor, category_id, channel, status, deadline)
    WHERE finished_at IS NULL;
-- A step's or a verification answer's card, by its id: its group.
CREATE INDEX appeals_report_group ON appeals (id, executor, category_id, channel);
-- The steps and the verification answers of a period, with their cards.
CREATE INDEX appeal_history_report ON appeal_history (kind, at, appeal_id)
    WHERE kind IN ('extension_requested', 'extended', 'moved_to_long_term');
DROP INDEX appeal_history_kind_at;
CREATE INDEX verification_attempts_report
    ON verification_attempts (at, result, executor_code, appeal_id);
DROP INDEX verification_attempts_at;
