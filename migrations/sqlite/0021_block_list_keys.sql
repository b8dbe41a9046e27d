-- The block list holds more than phone numbers (sqlite flavour; kept in
-- step with the other): an e-mail address (`mailto:…`, as the public form
-- refuses it) and a messenger account (`telegram:…`, `viber:…`) beside an
-- E.164 number. The column keeps its name; its check widens. SQLite cannot
-- change a check in place, so both tables are rebuilt, their rows and ids
-- kept (a transaction holds it all: the attempts are set aside first, so
-- dropping their parent cascades over nothing).

CREATE TABLE block_attempts_kept AS SELECT id, block_id, call_id, at, action FROM block_attempts;
DROP TABLE block_attempts;

CREATE TABLE blocked_numbers_widened (
    id          TEXT NOT NULL PRIMARY KEY,
    -- '+380…', 'mailto:name@host', 'telegram:<user id>', 'viber:<user id>'.
    number      TEXT NOT NULL CONSTRAINT blocked_numbers_key CHECK (
                    number LIKE '+%' OR number LIKE 'mailto:%'
                    OR number LIKE 'telegram:%' OR number LIKE 'viber:%'),
    reason      TEXT NOT NULL CONSTRAINT blocked_numbers_reason_not_blank CHECK (trim(reason) <> ''),
    blocked_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    blocked_at  TEXT NOT NULL,
    until       TEXT,
    call_id     TEXT REFERENCES calls (id) ON DELETE SET NULL,
    ended_at    TEXT,
    ended_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    end_reason  TEXT
) STRICT;
INSERT INTO blocked_numbers_widened
    SELECT id, number, reason, blocked_by, blocked_at, until, call_id, ended_at, ended_by, end_reason
    FROM blocked_numbers;
DROP TABLE blocked_numbers;
ALTER TABLE blocked_numbers_widened RENAME TO blocked_numbers;
CREATE UNIQUE INDEX blocked_numbers_active ON blocked_numbers (number) WHERE ended_at IS NULL;
CREATE INDEX blocked_numbers_history ON blocked_numbers (number, blocked_at);

CREATE TABLE block_attempts (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    block_id TEXT NOT NULL REFERENCES blocked_numbers (id) ON DELETE CASCADE,
    call_id  TEXT REFERENCES calls (id) ON DELETE SET NULL,
    at       TEXT NOT NULL,
    -- 'rejected' (403), 'prompt' (told, then hung up), or the channel that
    -- refused it ('web', 'open311', 'chatbot').
    action   TEXT NOT NULL
) STRICT;
INSERT INTO block_attempts (id, block_id, call_id, at, action)
    SELECT id, block_id, call_id, at, action FROM block_attempts_kept;
DROP TABLE block_attempts_kept;
CREATE INDEX block_attempts_block ON block_attempts (block_id, at);
