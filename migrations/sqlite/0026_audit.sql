-- What staff changed in how the system runs (sqlite flavour, kept in step
-- with the other): a supervisor's change of an operator's state, an
-- admin's change of users, operators, queues, the classifier or the voice
-- menu. Who, when, from where, what, the value before and after, and why.
-- Rows are only added; nothing here is ever updated.
CREATE TABLE audit_log (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    -- Kept as text: the entry outlives the user.
    actor_login   TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    address       TEXT NOT NULL,
    -- What was done: "operator.state", "user.add", "queue.update"…
    action        TEXT NOT NULL,
    -- What it was done to: a login, a queue's name, a classifier version…
    target        TEXT NOT NULL,
    -- JSON, or NULL where there was nothing before (or after).
    before        TEXT,
    after         TEXT,
    reason        TEXT
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_target ON audit_log (target, at);
