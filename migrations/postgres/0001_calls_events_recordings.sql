-- Call history, per-call events and recordings (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0001_calls_events_recordings.sql: same
-- version number, same tables, columns and meaning; native types here
-- (uuid, timestamptz, bigint identity).
--
-- Enum-like columns (transport, ended_by, disposition) carry no CHECK
-- constraint so both backends accept the same values; the Rust enums in
-- src/store validate them.

CREATE TABLE calls (
    id            uuid        NOT NULL PRIMARY KEY,
    sip_call_id   text        NOT NULL,
    caller_raw    text        NOT NULL,
    caller_e164   text,
    called_number text        NOT NULL,
    source        text        NOT NULL,
    source_addr   text        NOT NULL,
    transport     text        NOT NULL,
    arrived_at    timestamptz NOT NULL,
    answered_at   timestamptz,
    ended_at      timestamptz,
    ended_by      text,
    sip_status    integer,
    disposition   text,
    codec         text
);

-- History views list newest first.
CREATE INDEX calls_arrived_at ON calls (arrived_at);
-- Start-up after a crash looks for calls that never ended; they are few.
CREATE INDEX calls_unfinished ON calls (arrived_at) WHERE ended_at IS NULL;

CREATE TABLE call_events (
    -- Identity values only grow, so id is a stable tie-breaker for events
    -- with the same timestamp.
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Events mean nothing without their call; a future purge of old calls
    -- takes them along.
    call_id uuid        NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL,
    kind    text        NOT NULL,
    detail  text        NOT NULL
);

CREATE INDEX call_events_call ON call_events (call_id, at, id);

CREATE TABLE recordings (
    id          uuid        NOT NULL PRIMARY KEY,
    -- No cascade: a recording row points at a file on disk, so a purge must
    -- delete recordings (and their files) explicitly before the call.
    call_id     uuid        NOT NULL REFERENCES calls (id),
    path        text        NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    duration_ms bigint,
    size_bytes  bigint,
    sample_rate integer     NOT NULL,
    channels    integer     NOT NULL
);

CREATE INDEX recordings_call ON recordings (call_id, started_at);
CREATE INDEX recordings_unfinished ON recordings (started_at) WHERE ended_at IS NULL;
