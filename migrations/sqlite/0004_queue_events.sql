-- What happened to callers in the call queues: joining (or being refused),
-- an operator's phone ringing, answer, hanging up while waiting, transfer,
-- leaving, a new position. Queue statistics (waiting now, longest wait,
-- service level) are computed from these rows by src/store/queues.rs
-- (SQLite flavour).
--
-- Kept in step with migrations/postgres/0004_queue_events.sql: same table,
-- columns, constraints and indexes; only the types differ. Encodings as in
-- 0001 (UUIDs and timestamps are TEXT written by src/store). Queue names are
-- checked by src/store (as for operator_queues); the database only refuses
-- empty ones.
--
-- Unlike the enum-like columns of 0001-0003, kind carries a CHECK: the
-- statistics count rows by kind in SQL, so a misspelt kind would be lost
-- silently rather than fail to decode. The price: a new kind means
-- rebuilding this table on SQLite (a new table, copy, drop, rename).

CREATE TABLE queue_events (
    -- AUTOINCREMENT: ids are never reused, so id orders events with the
    -- same time.
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    -- Queue name as in sip-config/ (e.g. 'general', 'emergency').
    queue       TEXT    NOT NULL
        CONSTRAINT queue_events_queue_not_empty CHECK (queue <> ''),
    -- Events mean nothing without their call; a purge of old calls takes
    -- them along.
    call_id     TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL
        CONSTRAINT queue_events_kind_known CHECK (kind IN ('joined', 'refused', 'ringing',
            'answered', 'abandoned', 'transferred', 'left', 'position')),
    -- The operator rung, who answered, or who transferred; removing the
    -- operator keeps the event (the statistics still need it).
    operator_id TEXT    REFERENCES operators (id) ON DELETE SET NULL,
    -- How long the caller had waited in the queue, in milliseconds: set on
    -- answered, abandoned, transferred and left.
    wait_ms     INTEGER
        CONSTRAINT queue_events_wait_not_negative CHECK (wait_ms >= 0),
    -- Place in the queue, from 1 (the first caller to be offered).
    position    INTEGER
        CONSTRAINT queue_events_position_from_one CHECK (position >= 1),
    -- A refusal's reason ('full', 'no-operators'), a transfer's target...
    detail      TEXT
) STRICT;

-- Statistics read one queue's events of a period.
CREATE INDEX queue_events_queue_at ON queue_events (queue, at);
-- A call's events in order, and a waiting caller's latest event; id breaks
-- ties. Also serves the cascade when a call is deleted.
CREATE INDEX queue_events_call ON queue_events (call_id, at, id);
-- Removing an operator sets their events' operator_id to NULL; without
-- this index that scans every event. Most events name no operator.
CREATE INDEX queue_events_operator ON queue_events (operator_id) WHERE operator_id IS NOT NULL;
