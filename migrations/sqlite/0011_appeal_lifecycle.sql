-- The appeal's life (docs/lifecycle.md): executors as keys of the classifier
-- with their people, heads and curators; the state machine's facts on the
-- card; its history, append-only; the log of who opened which card
-- (sqlite flavour; kept in step with the other).

-- The state names of the lifecycle (never written before this version).
UPDATE appeals SET status = 'delivered' WHERE status = 'assigned';
UPDATE appeals SET status = 'closure_proposed' WHERE status = 'resolved';

-- An executor user works for one organisation of the classifier, by its
-- stable code; one or more of its users are its head.
ALTER TABLE users ADD COLUMN executor_code TEXT;
ALTER TABLE users ADD COLUMN executor_head INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_executor ON users (executor_code) WHERE executor_code IS NOT NULL;

-- The curator of an executor: the manager one level up, who must approve a
-- second extension (000 §3.3.2, 001 §9.3).
CREATE TABLE executor_curators (
    executor_code TEXT NOT NULL PRIMARY KEY
        CONSTRAINT executor_curators_code_not_empty CHECK (executor_code <> ''),
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    set_by        TEXT REFERENCES users (id) ON DELETE SET NULL,
    set_at        TEXT NOT NULL
) STRICT;

-- The appeal's kind (004 §4.2): remark, proposal, statement, complaint,
-- request or demand; NULL on cards from before.
ALTER TABLE appeals ADD COLUMN kind TEXT;
-- An anonymous appeal (003 §10): a number and an executor, no callback.
ALTER TABLE appeals ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
-- The lifecycle's facts (src/appeal/lifecycle.rs, Card).
ALTER TABLE appeals ADD COLUMN control TEXT NOT NULL DEFAULT 'regular';
ALTER TABLE appeals ADD COLUMN term_start TEXT;
ALTER TABLE appeals ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN planned_date TEXT;
ALTER TABLE appeals ADD COLUMN delivery_at TEXT;
ALTER TABLE appeals ADD COLUMN proofs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN overdue_noted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN due_soon_noted INTEGER NOT NULL DEFAULT 0;
-- The request awaiting a decision, as JSON (lifecycle::Pending).
ALTER TABLE appeals ADD COLUMN pending TEXT;
-- Its due time, apart, for the decisions queue's order.
ALTER TABLE appeals ADD COLUMN pending_due TEXT;
-- When it was closed or dismissed: retention counts 3 years from here.
ALTER TABLE appeals ADD COLUMN finished_at TEXT;
-- Bumped by every step: a step computed from a stale card fails.
ALTER TABLE appeals ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE appeals SET term_start = created_at;

CREATE INDEX appeals_pending ON appeals (pending_due) WHERE pending_due IS NOT NULL;
CREATE INDEX appeals_delivery ON appeals (delivery_at) WHERE delivery_at IS NOT NULL;

-- The executors on a card (001 §7.2): one lead, others beside it.
CREATE TABLE appeal_executors (
    appeal_id     TEXT    NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    executor_code TEXT    NOT NULL
        CONSTRAINT appeal_executors_code_not_empty CHECK (executor_code <> ''),
    lead          INTEGER NOT NULL,
    -- Named when it accepted (000 §3.1.1).
    responsible   TEXT,
    -- Why it said "not ours"; it then has no part in the work.
    declined      TEXT,
    PRIMARY KEY (appeal_id, executor_code)
) STRICT;

CREATE UNIQUE INDEX appeal_executors_one_lead ON appeal_executors (appeal_id) WHERE lead = 1;
CREATE INDEX appeal_executors_inbox ON appeal_executors (executor_code, appeal_id);

-- The executors of the cards filed so far: the category's.
INSERT INTO appeal_executors (appeal_id, executor_code, lead)
    SELECT a.id, e.code, 1
    FROM appeals a
    JOIN classifier_categories c ON c.id = a.category_id
    JOIN classifier_executors e ON e.id = c.executor_id;

-- Every step of a card's life: who, when, what, why. Append-only: the
-- triggers below refuse to change or remove an entry while its card exists
-- (a card's retention removes its history with it).
CREATE TABLE appeal_history (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    appeal_id   TEXT    NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    at          TEXT    NOT NULL,
    -- The author: a user (kept by login and role if the user goes) or the
    -- server ('system').
    user_id     TEXT    REFERENCES users (id) ON DELETE SET NULL,
    login       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    -- For an executor's user, its organisation.
    executor_code TEXT,
    -- lifecycle::EntryKind.
    kind        TEXT    NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    -- The comment, reason or summary.
    body        TEXT,
    -- JSON: the attachments the step carried, and what else it changed.
    files       TEXT    NOT NULL DEFAULT '[]',
    details     TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX appeal_history_appeal ON appeal_history (appeal_id, id);

-- A user going sets user_id to NULL (the login stays): that column alone
-- may change.
CREATE TRIGGER appeal_history_no_update
BEFORE UPDATE OF id, appeal_id, at, login, role, executor_code, kind, from_status, to_status,
                 body, files, details ON appeal_history
BEGIN
    SELECT RAISE(ABORT, 'appeal history is append-only');
END;

CREATE TRIGGER appeal_history_no_delete BEFORE DELETE ON appeal_history
WHEN EXISTS (SELECT 1 FROM appeals WHERE id = OLD.appeal_id)
BEGIN
    SELECT RAISE(ABORT, 'appeal history is append-only');
END;

-- Attachments marked by the executor as proof of the work (000 §3.1.5).
ALTER TABLE appeal_attachments ADD COLUMN proof INTEGER NOT NULL DEFAULT 0;

-- Who opened which card, when, from where. Kept when users or cards go
-- (the login and number are copied).
CREATE TABLE appeal_access (
    id                  INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    appeal_id           TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    user_id             TEXT,
    login               TEXT NOT NULL,
    role                TEXT NOT NULL,
    at                  TEXT NOT NULL,
    address             TEXT NOT NULL,
    user_agent          TEXT
) STRICT;

CREATE INDEX appeal_access_at ON appeal_access (at);
CREATE INDEX appeal_access_appeal ON appeal_access (appeal_id, at);
