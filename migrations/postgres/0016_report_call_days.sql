-- The reports' call figures per city day, counted once the day is over
-- (docs/reports.md, "Speed"): a year's report adds up 365 days' rows
-- instead of reading millions of queue events (postgres flavour; kept in
-- step with the other).
--
-- A day's rows are replaced whole, in one transaction, when it is counted
-- (again): `threshold_ms` is the service level's threshold it was counted
-- with, so a changed threshold counts the days again.
CREATE TABLE report_call_days (
    day text PRIMARY KEY,
    threshold_ms bigint NOT NULL,
    -- The voice menu's self-service: status look-ups, outage announcements.
    lookups bigint NOT NULL,
    outages bigint NOT NULL,
    counted_at timestamptz NOT NULL
);

-- Queue events by queue, operator, outcome and wait against the threshold.
CREATE TABLE report_call_day_queues (
    day text NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    queue text NOT NULL,
    operator_id uuid,
    kind text NOT NULL,
    within boolean NOT NULL,
    n bigint NOT NULL,
    wait_ms bigint NOT NULL,
    talk bigint NOT NULL
);
CREATE INDEX report_call_day_queues_day ON report_call_day_queues (day);

-- Wrap-ups by operator (counted on the day they began).
CREATE TABLE report_call_day_wrap_ups (
    day text NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    operator_id uuid NOT NULL,
    n bigint NOT NULL,
    secs bigint NOT NULL
);
CREATE INDEX report_call_day_wrap_ups_day ON report_call_day_wrap_ups (day);

-- Inbound calls by hour (UTC, "YYYY-MM-DDTHH").
CREATE TABLE report_call_day_hours (
    day text NOT NULL REFERENCES report_call_days (day) ON DELETE CASCADE,
    hour text NOT NULL,
    n bigint NOT NULL,
    blocked bigint NOT NULL
);
CREATE INDEX report_call_day_hours_day ON report_call_day_hours (day);
