-- Reports sent by e-mail on schedule (docs/reports.md, "Delivery"): one row
-- per report and recipients of a schedule's occurrence (sqlite flavour; kept
-- in step with the other).
--
-- `key` names the occurrence and, for the daily report, the executor: the
-- first node to see an occurrence inserts it, every later try finds it, so
-- each is sent once. A sender claims a row by setting `claimed_until`; a
-- node that dies holding a claim lets it lapse and another sends it.
CREATE TABLE report_deliveries (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    period_first TEXT NOT NULL,
    period_last TEXT NOT NULL,
    executor TEXT,
    format TEXT NOT NULL,
    -- Addresses, one per line.
    recipients TEXT NOT NULL,
    -- pending (to send or to retry), sent, failed (gave up), skipped
    -- (nobody to send it to).
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    due_at TEXT NOT NULL,
    next_attempt_at TEXT,
    claimed_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- The attachment as sent: its name, size and SHA-256.
    file_name TEXT,
    file_bytes INTEGER,
    file_sha256 TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX report_deliveries_pending ON report_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX report_deliveries_due ON report_deliveries (due_at);

-- When each schedule (named by what it sends, when and to whom) was first
-- configured: occurrences before that were never missed, so a schedule
-- added today does not send last week's report at once.
CREATE TABLE report_schedules (
    identity TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);
