-- People who sign in to the console, their roles, and their sessions
-- (SQLite flavour).
--
-- Kept in step with migrations/postgres/0006_users.sql. Logins follow the
-- operators' rules (src/store/users.rs checks them); the role is one of the
-- four the console knows, checked here too because access depends on it.

CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    -- Sign-in name: [a-z0-9._-].
    login         TEXT NOT NULL UNIQUE
        CONSTRAINT users_login_not_empty CHECK (login <> ''),
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL
        CONSTRAINT users_role_known CHECK (role IN ('operator', 'supervisor', 'executor', 'admin')),
    -- Argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- An operator user is the person behind an operator (SIP extension);
    -- one user per operator. Removing the operator leaves the user without
    -- phone duties.
    operator_id   TEXT UNIQUE REFERENCES operators (id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    -- Set when the user may no longer sign in.
    disabled_at   TEXT,
    CONSTRAINT users_operator_only_for_operators CHECK (operator_id IS NULL OR role = 'operator')
) STRICT;

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: the token itself is never stored,
    -- so a copy of the database signs nobody in.
    token_hash   TEXT NOT NULL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Sent back with every state-changing request (X-CSRF-Token).
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
