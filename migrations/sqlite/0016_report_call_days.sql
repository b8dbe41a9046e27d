-- The reports' call figures per city day, counted once the day is over
-- (docs/reports.md, "Speed"): a year's report adds up 365 days' rows
-- instead of reading millions of queue events (sqlite flavour; kept in
-- step with the other).
--
-- A day's rows are replaced whole, in one transaction, when it is counted
-- (again): `threshold_ms` is the service level's threshold it was counted
-- with, so a changed threshold counts the days again.
CREATE TABLE report_call_days (
    day TEXT PRIMARY KEY,
    threshold_ms INTEGER NOT NULL,
    -- The voice menu's self-service: status look-ups, outage announcements.
    lookups INTEGER NOT NULL,
    outages INTEGER NOT NULL,
    counted_at TEXT NOT NULL
);

-- Queue events by queue, operator, outcome and wait against the threshold.
CREATE TABLE report_call_day_queues (
    day TEXT NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    queue TEXT NOT NULL,
    operator_id TEXT,
    kind TEXT NOT NULL,
    within INTEGER NOT NULL,
    n INTEGER NOT NULL,
    wait_ms INTEGER NOT NULL,
    talk INTEGER NOT NULL
);
CREATE INDEX report_call_day_queues_day ON report_call_day_queues (day);

-- Wrap-ups by operator (counted on the day they began).
CREATE TABLE report_call_day_wrap_ups (
    day TEXT NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    operator_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    secs INTEGER NOT NULL
);
CREATE INDEX report_call_day_wrap_ups_day ON report_call_day_wrap_ups (day);

-- Inbound calls by hour (UTC, "YYYY-MM-DDTHH").
CREATE TABLE report_call_day_hours (
    day TEXT NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    hour TEXT NOT NULL,
    n INTEGER NOT NULL,
    blocked INTEGER NOT NULL
);
CREATE INDEX report_call_day_hours_day ON report_call_day_hours (day);
