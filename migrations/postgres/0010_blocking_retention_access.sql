-- Blocked callers, retention (purged recordings, legal holds) and the
-- access log of recordings (postgres flavour; kept in step with the other).

-- A blocked number, E.164. A block ends when it is lifted (ended_by set)
-- or when its `until` passes (end_reason 'expired', written by the sweep
-- that notices it); ended blocks are kept as the list's history.
CREATE TABLE blocked_numbers (
    id          uuid NOT NULL PRIMARY KEY,
    number      text NOT NULL CONSTRAINT blocked_numbers_number_e164 CHECK (number LIKE '+%'),
    reason      text NOT NULL CONSTRAINT blocked_numbers_reason_not_blank CHECK (trim(reason) <> ''),
    blocked_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    blocked_at  timestamptz NOT NULL,
    -- NULL: until lifted.
    until       timestamptz,
    -- The call that led to it ("end call and block caller").
    call_id     uuid REFERENCES calls (id) ON DELETE SET NULL,
    ended_at    timestamptz,
    ended_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- 'lifted' or 'expired'.
    end_reason  text
);

-- At most one block in force per number; the call path looks it up.
CREATE UNIQUE INDEX blocked_numbers_active ON blocked_numbers (number) WHERE ended_at IS NULL;
CREATE INDEX blocked_numbers_history ON blocked_numbers (number, blocked_at);

-- Every call from a blocked number, and what it got.
CREATE TABLE block_attempts (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    block_id uuid NOT NULL REFERENCES blocked_numbers (id) ON DELETE CASCADE,
    call_id  uuid REFERENCES calls (id) ON DELETE SET NULL,
    at       timestamptz NOT NULL,
    -- 'rejected' (403) or 'prompt' (told, then hung up).
    action   text NOT NULL
);

CREATE INDEX block_attempts_block ON block_attempts (block_id, at);

-- The operator's "end call and block caller" requests become blocks: the
-- latest per number in force (until lifted), the earlier ones as history
-- ('replaced'). A request whose caller was never normalised to E.164 cannot
-- be a block; every request stays in block_requests_archive.
INSERT INTO blocked_numbers (id, number, reason, blocked_by, blocked_at, call_id, ended_at, end_reason)
    SELECT md5(random()::text || r.id::text)::uuid,
           r.caller, r.reason, r.requested_by, r.at, r.call_id,
           CASE WHEN r.id = (SELECT max(x.id) FROM block_requests x WHERE x.caller = r.caller)
                THEN NULL ELSE r.at END,
           CASE WHEN r.id = (SELECT max(x.id) FROM block_requests x WHERE x.caller = r.caller)
                THEN NULL ELSE 'replaced' END
    FROM block_requests r
    WHERE r.caller LIKE '+%';
ALTER TABLE block_requests RENAME TO block_requests_archive;

-- A recording whose file the pruner removed keeps its row, marked.
ALTER TABLE recordings ADD COLUMN purged_at timestamptz;
-- 'retention', or 'missing' when the start-up sweep found no file.
ALTER TABLE recordings ADD COLUMN purge_reason text;
CREATE INDEX recordings_started ON recordings (started_at) WHERE purged_at IS NULL;

-- Legal holds: a recording or a card that must not be pruned while the
-- hold lasts (a disputed appeal). A hold on a card also holds the
-- recordings of its calls.
CREATE TABLE legal_holds (
    id           uuid NOT NULL PRIMARY KEY,
    recording_id uuid REFERENCES recordings (id) ON DELETE CASCADE,
    appeal_id    uuid REFERENCES appeals (id) ON DELETE CASCADE,
    reason       text NOT NULL CONSTRAINT legal_holds_reason_not_blank CHECK (trim(reason) <> ''),
    set_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    set_at       timestamptz NOT NULL,
    released_at  timestamptz,
    released_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT legal_holds_one_target CHECK ((recording_id IS NULL) <> (appeal_id IS NULL))
);

CREATE INDEX legal_holds_recording ON legal_holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_appeal ON legal_holds (appeal_id) WHERE released_at IS NULL;

-- Who listened to or downloaded which recording, when, from where. Kept
-- when users or recordings go (the login and ids are copied).
CREATE TABLE recording_access (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id uuid NOT NULL,
    call_id      uuid NOT NULL,
    user_id      uuid,
    login        text NOT NULL,
    role         text NOT NULL,
    at           timestamptz NOT NULL,
    -- 'play' or 'download'.
    action       text NOT NULL,
    -- The Range asked for, if any ('bytes=1000-').
    range        text,
    address      text NOT NULL,
    user_agent   text
);

CREATE INDEX recording_access_at ON recording_access (at);
CREATE INDEX recording_access_recording ON recording_access (recording_id, at);

-- Searching recordings by caller.
CREATE INDEX calls_caller ON calls (caller_e164, arrived_at);
