-- Operators (the people who answer calls), the queues each serves, and every
-- change of an operator's state (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0003_operators.sql: same tables,
-- columns, constraints and indexes; native types here. The state column
-- carries no CHECK, as in 0001: the Rust enum OperatorState validates it.
-- Logins, extensions and queue names are checked by src/store/operators.rs
-- (allowed characters, lengths); the database only refuses empty ones.
--
-- Those three are identifiers, so they collate "C" (byte order), as SQLite
-- compares text: lists ordered by them come out the same on both backends
-- whatever locale the cluster was created with (under uk_UA or en_US,
-- 'ivan.p' and 'ivanp' would sort by letters alone, ignoring the dot).

CREATE TABLE operators (
    id            uuid        NOT NULL PRIMARY KEY,
    -- Sign-in name for the console and the command line: [a-z0-9._-].
    login         text        COLLATE "C" NOT NULL UNIQUE
        CONSTRAINT operators_login_not_empty CHECK (login <> ''),
    display_name  text        NOT NULL,
    -- SIP extension (digits): the softphone's user name, what REGISTER and
    -- the digest's "username" carry.
    extension     text        COLLATE "C" NOT NULL UNIQUE
        CONSTRAINT operators_extension_not_empty CHECK (extension <> ''),
    -- The digest realm ha1_md5 and ha1_sha256 were computed for. If the
    -- configured realm changes, these no longer authenticate anyone until
    -- the password is set again; keeping the realm lets the registrar say so.
    realm         text        NOT NULL,
    -- HA1 = H(extension ":" realm ":" password), hex, for RFC 7616 digest
    -- with MD5 and with SHA-256. Password equivalents for SIP: treat as
    -- secrets.
    ha1_md5       text        NOT NULL,
    ha1_sha256    text        NOT NULL,
    -- Argon2id PHC string ('$argon2id$v=19$...'), for the console sign-in.
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    -- Set when the operator may no longer sign in or register.
    disabled_at   timestamptz
);

CREATE TABLE operator_queues (
    operator_id uuid    NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    -- Queue name as in sip-config/ (e.g. 'general', 'emergency').
    queue       text    COLLATE "C" NOT NULL
        CONSTRAINT operator_queues_queue_not_empty CHECK (queue <> ''),
    -- Asterisk's member penalty: lower is offered calls first.
    penalty     integer NOT NULL DEFAULT 0
        CONSTRAINT operator_queues_penalty_not_negative CHECK (penalty >= 0),
    PRIMARY KEY (operator_id, queue)
);

-- Routing asks who serves a queue.
CREATE INDEX operator_queues_queue ON operator_queues (queue);

CREATE TABLE operator_state_changes (
    -- Identity values only grow, so id orders changes with the same time.
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Removing an operator removes their history with them.
    operator_id uuid        NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    -- available, ringing, on_call, wrap_up, paused, logged_out.
    state       text        NOT NULL,
    -- Why (a pause's reason, "no answer twice"...); NULL when none given.
    reason      text
);

-- An operator's history in order, and their latest state; id breaks ties.
CREATE INDEX operator_state_changes_operator ON operator_state_changes (operator_id, at, id);
