-- Call history, per-call events and recordings (SQLite flavour).
--
-- Kept in step with migrations/postgres/0001_calls_events_recordings.sql: same
-- version number, same tables, columns and meaning; only the types differ.
--
-- Encoding (done by src/store, not by SQLite):
--   * UUIDs are TEXT, lower-case hyphenated (what `uuid::Uuid` displays), so
--     they are readable in the sqlite3 shell and join as plain text.
--   * Timestamps are TEXT in UTC, fixed width 'YYYY-MM-DDTHH:MM:SS.ffffffZ'
--     (always six fractional digits), so text order is time order and
--     ORDER BY / < / > on these columns compare instants correctly.
--
-- Enum-like columns (transport, ended_by, disposition) carry no CHECK
-- constraint: the Rust enums validate them, and changing a CHECK on SQLite
-- means rebuilding the table.
--
-- STRICT makes SQLite reject a value of the wrong storage class instead of
-- silently storing it, which is what PostgreSQL does anyway.

CREATE TABLE calls (
    id            TEXT    NOT NULL PRIMARY KEY,
    sip_call_id   TEXT    NOT NULL,
    caller_raw    TEXT    NOT NULL,
    caller_e164   TEXT,
    called_number TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    source_addr   TEXT    NOT NULL,
    transport     TEXT    NOT NULL,
    arrived_at    TEXT    NOT NULL,
    answered_at   TEXT,
    ended_at      TEXT,
    ended_by      TEXT,
    sip_status    INTEGER,
    disposition   TEXT,
    codec         TEXT
) STRICT;

-- History views list newest first.
CREATE INDEX calls_arrived_at ON calls (arrived_at);
-- Start-up after a crash looks for calls that never ended; they are few.
CREATE INDEX calls_unfinished ON calls (arrived_at) WHERE ended_at IS NULL;

CREATE TABLE call_events (
    -- AUTOINCREMENT: ids are never reused, so id is a stable tie-breaker for
    -- events with the same timestamp.
    id      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- Events mean nothing without their call; a future purge of old calls
    -- takes them along.
    call_id TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    at      TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    detail  TEXT    NOT NULL
) STRICT;

CREATE INDEX call_events_call ON call_events (call_id, at, id);

CREATE TABLE recordings (
    id          TEXT    NOT NULL PRIMARY KEY,
    -- No cascade: a recording row points at a file on disk, so a purge must
    -- delete recordings (and their files) explicitly before the call.
    call_id     TEXT    NOT NULL REFERENCES calls (id),
    path        TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    duration_ms INTEGER,
    size_bytes  INTEGER,
    sample_rate INTEGER NOT NULL,
    channels    INTEGER NOT NULL
) STRICT;

CREATE INDEX recordings_call ON recordings (call_id, started_at);
CREATE INDEX recordings_unfinished ON recordings (started_at) WHERE ended_at IS NULL;
