-- Reports sent by e-mail on schedule (docs/reports.md, "Delivery"): one row
-- per report and recipients of a schedule's occurrence (postgres flavour; kept
-- in step with the other).
--
-- `key` names the occurrence and, for the daily report, the executor: the
-- first node to see an occurrence inserts it, every later try finds it, so
-- each is sent once. A sender claims a row by setting `claimed_until`; a
-- node that dies holding a claim lets it lapse and another sends it.
CREATE TABLE report_deliveries (
    id uuid PRIMARY KEY,
    key text NOT NULL UNIQUE,
    kind text NOT NULL,
    period_first text NOT NULL,
    period_last text NOT NULL,
    executor text,
    format text NOT NULL,
    -- Addresses, one per line.
    recipients text NOT NULL,
    -- pending (to send or to retry), sent, failed (gave up), skipped
    -- (nobody to send it to).
    status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    due_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    claimed_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    -- The attachment as sent: its name, size and SHA-256.
    file_name text,
    file_bytes bigint,
    file_sha256 text,
    created_at timestamptz NOT NULL,
    sent_at timestamptz
);
CREATE INDEX report_deliveries_pending ON report_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX report_deliveries_due ON report_deliveries (due_at);

-- When each schedule (named by what it sends, when and to whom) was first
-- configured: occurrences before that were never missed, so a schedule
-- added today does not send last week's report at once.
CREATE TABLE report_schedules (
    identity text PRIMARY KEY,
    first_seen timestamptz NOT NULL
);
