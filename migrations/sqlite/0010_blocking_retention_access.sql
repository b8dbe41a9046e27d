-- Blocked callers, retention (purged recordings, legal holds) and the
-- access log of recordings (sqlite flavour; kept in step with the other).

-- A blocked number, E.164. A block ends when it is lifted (ended_by set)
-- or when its `until` passes (end_reason 'expired', written by the sweep
-- that notices it); ended blocks are kept as the list's history.
CREATE TABLE blocked_numbers (
    id          TEXT NOT NULL PRIMARY KEY,
    number      TEXT NOT NULL CONSTRAINT blocked_numbers_number_e164 CHECK (number LIKE '+%'),
    reason      TEXT NOT NULL CONSTRAINT blocked_numbers_reason_not_blank CHECK (trim(reason) <> ''),
    blocked_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    blocked_at  TEXT NOT NULL,
    -- NULL: until lifted.
    until       TEXT,
    -- The call that led to it ("end call and block caller").
    call_id     TEXT REFERENCES calls (id) ON DELETE SET NULL,
    ended_at    TEXT,
    ended_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- 'lifted' or 'expired'.
    end_reason  TEXT
) STRICT;

-- At most one block in force per number; the call path looks it up.
CREATE UNIQUE INDEX blocked_numbers_active ON blocked_numbers (number) WHERE ended_at IS NULL;
CREATE INDEX blocked_numbers_history ON blocked_numbers (number, blocked_at);

-- Every call from a blocked number, and what it got.
CREATE TABLE block_attempts (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    block_id TEXT NOT NULL REFERENCES blocked_numbers (id) ON DELETE CASCADE,
    call_id  TEXT REFERENCES calls (id) ON DELETE SET NULL,
    at       TEXT NOT NULL,
    -- 'rejected' (403) or 'prompt' (told, then hung up).
    action   TEXT NOT NULL
) STRICT;

CREATE INDEX block_attempts_block ON block_attempts (block_id, at);

-- The operator's "end call and block caller" requests become blocks: the
-- latest per number in force (until lifted), the earlier ones as history
-- ('replaced'). A request whose caller was never normalised to E.164 cannot
-- be a block; every request stays in block_requests_archive.
INSERT INTO blocked_numbers (id, number, reason, blocked_by, blocked_at, call_id, ended_at, end_reason)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
           substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) ||
           '-' || lower(hex(randomblob(6))),
           r.caller, r.reason, r.requested_by, r.at, r.call_id,
           CASE WHEN r.id = (SELECT max(x.id) FROM block_requests x WHERE x.caller = r.caller)
                THEN NULL ELSE r.at END,
           CASE WHEN r.id = (SELECT max(x.id) FROM block_requests x WHERE x.caller = r.caller)
                THEN NULL ELSE 'replaced' END
    FROM block_requests r
    WHERE r.caller LIKE '+%';
ALTER TABLE block_requests RENAME TO block_requests_archive;

-- A recording whose file the pruner removed keeps its row, marked.
ALTER TABLE recordings ADD COLUMN purged_at TEXT;
-- 'retention', or 'missing' when the start-up sweep found no file.
ALTER TABLE recordings ADD COLUMN purge_reason TEXT;
CREATE INDEX recordings_started ON recordings (started_at) WHERE purged_at IS NULL;

-- Legal holds: a recording or a card that must not be pruned while the
-- hold lasts (a disputed appeal). A hold on a card also holds the
-- recordings of its calls.
CREATE TABLE legal_holds (
    id           TEXT NOT NULL PRIMARY KEY,
    recording_id TEXT REFERENCES recordings (id) ON DELETE CASCADE,
    appeal_id    TEXT REFERENCES appeals (id) ON DELETE CASCADE,
    reason       TEXT NOT NULL CONSTRAINT legal_holds_reason_not_blank CHECK (trim(reason) <> ''),
    set_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    set_at       TEXT NOT NULL,
    released_at  TEXT,
    released_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT legal_holds_one_target CHECK ((recording_id IS NULL) <> (appeal_id IS NULL))
) STRICT;

CREATE INDEX legal_holds_recording ON legal_holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_appeal ON legal_holds (appeal_id) WHERE released_at IS NULL;

-- Who listened to or downloaded which recording, when, from where. Kept
-- when users or recordings go (the login and ids are copied).
CREATE TABLE recording_access (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    recording_id TEXT NOT NULL,
    call_id      TEXT NOT NULL,
    user_id      TEXT,
    login        TEXT NOT NULL,
    role         TEXT NOT NULL,
    at           TEXT NOT NULL,
    -- 'play' or 'download'.
    action       TEXT NOT NULL,
    -- The Range asked for, if any ('bytes=1000-').
    range        TEXT,
    address      TEXT NOT NULL,
    user_agent   TEXT
) STRICT;

CREATE INDEX recording_access_at ON recording_access (at);
CREATE INDEX recording_access_recording ON recording_access (recording_id, at);

-- Searching recordings by caller.
CREATE INDEX calls_caller ON calls (caller_e164, arrived_at);
