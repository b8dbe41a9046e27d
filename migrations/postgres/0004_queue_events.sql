-- What happened to callers in the call queues: joining (or being refused),
-- an operator's phone ringing, answer, hanging up while waiting, transfer,
-- leaving, a new position. Queue statistics (waiting now, longest wait,
-- service level) are computed from these rows by src/store/queues.rs
-- (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0004_queue_events.sql: same table,
-- columns, constraints and indexes; native types here. Queue names are
-- checked by src/store (as for operator_queues); the database only refuses
-- empty ones, and they collate "C" as in 0003.
--
-- Unlike the enum-like columns of 0001-0003, kind carries a CHECK: the
-- statistics count rows by kind in SQL, so a misspelt kind would be lost
-- silently rather than fail to decode.

CREATE TABLE queue_events (
    -- Identity values only grow, so id orders events with the same time.
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    -- Queue name as in sip-config/ (e.g. 'general', 'emergency').
    queue       text        COLLATE "C" NOT NULL
        CONSTRAINT queue_events_queue_not_empty CHECK (queue <> ''),
    -- Events mean nothing without their call; a purge of old calls takes
    -- them along.
    call_id     uuid        NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    kind        text        NOT NULL
        CONSTRAINT queue_events_kind_known CHECK (kind IN ('joined', 'refused', 'ringing',
            'answered', 'abandoned', 'transferred', 'left', 'position')),
    -- The operator rung, who answered, or who transferred; removing the
    -- operator keeps the event (the statistics still need it).
    operator_id uuid        REFERENCES operators (id) ON DELETE SET NULL,
    -- How long the caller had waited in the queue, in milliseconds: set on
    -- answered, abandoned, transferred and left.
    wait_ms     bigint
        CONSTRAINT queue_events_wait_not_negative CHECK (wait_ms >= 0),
    -- Place in the queue, from 1 (the first caller to be offered).
    position    integer
        CONSTRAINT queue_events_position_from_one CHECK (position >= 1),
    -- A refusal's reason ('full', 'no-operators'), a transfer's target...
    detail      text
);

-- Statistics read one queue's events of a period.
CREATE INDEX queue_events_queue_at ON queue_events (queue, at);
-- A call's events in order, and a waiting caller's latest event; id breaks
-- ties. Also serves the cascade when a call is deleted.
CREATE INDEX queue_events_call ON queue_events (call_id, at, id);
-- Removing an operator sets their events' operator_id to NULL; without
-- this index that scans every event. Most events name no operator.
CREATE INDEX queue_events_operator ON queue_events (operator_id) WHERE operator_id IS NOT NULL;
