-- The appeal's life (docs/lifecycle.md): executors as keys of the classifier
-- with their people, heads and curators; the state machine's facts on the
-- card; its history, append-only; the log of who opened which card
-- (postgres flavour; kept in step with the other).

-- The state names of the lifecycle (never written before this version).
UPDATE appeals SET status = 'delivered' WHERE status = 'assigned';
UPDATE appeals SET status = 'closure_proposed' WHERE status = 'resolved';

-- An executor user works for one organisation of the classifier, by its
-- stable code; one or more of its users are its head.
ALTER TABLE users ADD COLUMN executor_code text;
ALTER TABLE users ADD COLUMN executor_head boolean NOT NULL DEFAULT false;
CREATE INDEX users_executor ON users (executor_code) WHERE executor_code IS NOT NULL;

-- The curator of an executor: the manager one level up, who must approve a
-- second extension (000 §3.3.2, 001 §9.3).
CREATE TABLE executor_curators (
    executor_code text NOT NULL PRIMARY KEY
        CONSTRAINT executor_curators_code_not_empty CHECK (executor_code <> ''),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    set_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    set_at        timestamptz NOT NULL
);

-- The appeal's kind (004 §4.2): remark, proposal, statement, complaint,
-- request or demand; NULL on cards from before.
ALTER TABLE appeals ADD COLUMN kind text;
-- An anonymous appeal (003 §10): a number and an executor, no callback.
ALTER TABLE appeals ADD COLUMN anonymous boolean NOT NULL DEFAULT false;
-- The lifecycle's facts (src/appeal/lifecycle.rs, Card).
ALTER TABLE appeals ADD COLUMN control text NOT NULL DEFAULT 'regular';
ALTER TABLE appeals ADD COLUMN term_start timestamptz;
ALTER TABLE appeals ADD COLUMN extensions integer NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN planned_date date;
ALTER TABLE appeals ADD COLUMN delivery_at timestamptz;
ALTER TABLE appeals ADD COLUMN proofs integer NOT NULL DEFAULT 0;
ALTER TABLE appeals ADD COLUMN overdue_noted boolean NOT NULL DEFAULT false;
ALTER TABLE appeals ADD COLUMN due_soon_noted boolean NOT NULL DEFAULT false;
-- The request awaiting a decision, as JSON text (lifecycle::Pending), read
-- and written whole by the store.
ALTER TABLE appeals ADD COLUMN pending text;
-- Its due time, apart, for the decisions queue's order.
ALTER TABLE appeals ADD COLUMN pending_due timestamptz;
-- When it was closed or dismissed: retention counts 3 years from here.
ALTER TABLE appeals ADD COLUMN finished_at timestamptz;
-- Bumped by every step: a step computed from a stale card fails.
ALTER TABLE appeals ADD COLUMN revision integer NOT NULL DEFAULT 0;
UPDATE appeals SET term_start = created_at;

CREATE INDEX appeals_pending ON appeals (pending_due) WHERE pending_due IS NOT NULL;
CREATE INDEX appeals_delivery ON appeals (delivery_at) WHERE delivery_at IS NOT NULL;

-- The executors on a card (001 §7.2): one lead, others beside it.
CREATE TABLE appeal_executors (
    appeal_id     uuid    NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    executor_code text    NOT NULL
        CONSTRAINT appeal_executors_code_not_empty CHECK (executor_code <> ''),
    lead          boolean NOT NULL,
    -- Named when it accepted (000 §3.1.1).
    responsible   text,
    -- Why it said "not ours"; it then has no part in the work.
    declined      text,
    PRIMARY KEY (appeal_id, executor_code)
);

CREATE UNIQUE INDEX appeal_executors_one_lead ON appeal_executors (appeal_id) WHERE lead;
CREATE INDEX appeal_executors_inbox ON appeal_executors (executor_code, appeal_id);

-- The executors of the cards filed so far: the category's.
INSERT INTO appeal_executors (appeal_id, executor_code, lead)
    SELECT a.id, e.code, true
    FROM appeals a
    JOIN classifier_categories c ON c.id = a.category_id
    JOIN classifier_executors e ON e.id = c.executor_id;

-- Every step of a card's life: who, when, what, why. Append-only: the
-- trigger below refuses to change or remove an entry while its card exists
-- (a card's retention removes its history with it).
CREATE TABLE appeal_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id     uuid   NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL,
    -- The author: a user (kept by login and role if the user goes) or the
    -- server ('system').
    user_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    login         text NOT NULL,
    role          text NOT NULL,
    -- For an executor's user, its organisation.
    executor_code text,
    -- lifecycle::EntryKind.
    kind          text NOT NULL,
    from_status   text NOT NULL,
    to_status     text NOT NULL,
    -- The comment, reason or summary.
    body          text,
    -- JSON text: the attachments the step carried, and what else it changed.
    files         text NOT NULL DEFAULT '[]',
    details       text NOT NULL DEFAULT '{}'
);

CREATE INDEX appeal_history_appeal ON appeal_history (appeal_id, id);

CREATE FUNCTION appeal_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A user going sets user_id to NULL (the login stays): allowed.
    IF TG_OP = 'UPDATE' AND NEW.user_id IS NULL AND OLD.user_id IS NOT NULL
       AND (NEW.id, NEW.appeal_id, NEW.at, NEW.login, NEW.kind, NEW.body, NEW.details)
           IS NOT DISTINCT FROM (OLD.id, OLD.appeal_id, OLD.at, OLD.login, OLD.kind, OLD.body, OLD.details) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM appeals WHERE id = OLD.appeal_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'appeal history is append-only';
END;
$$;

CREATE TRIGGER appeal_history_append_only BEFORE UPDATE OR DELETE ON appeal_history
    FOR EACH ROW EXECUTE FUNCTION appeal_history_append_only();

-- Attachments marked by the executor as proof of the work (000 §3.1.5).
ALTER TABLE appeal_attachments ADD COLUMN proof boolean NOT NULL DEFAULT false;

-- Who opened which card, when, from where. Kept when users or cards go
-- (the login and number are copied).
CREATE TABLE appeal_access (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id           uuid NOT NULL,
    registration_number text NOT NULL,
    user_id             uuid,
    login               text NOT NULL,
    role                text NOT NULL,
    at                  timestamptz NOT NULL,
    address             text NOT NULL,
    user_agent          text
);

CREATE INDEX appeal_access_at ON appeal_access (at);
CREATE INDEX appeal_access_appeal ON appeal_access (appeal_id, at);
