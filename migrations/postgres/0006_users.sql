-- People who sign in to the console, their roles, and their sessions
-- (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0006_users.sql; native types here.
-- Logins collate "C" (byte order), as in 0003.

CREATE TABLE users (
    id            uuid        NOT NULL PRIMARY KEY,
    -- Sign-in name: [a-z0-9._-].
    login         text        COLLATE "C" NOT NULL UNIQUE
        CONSTRAINT users_login_not_empty CHECK (login <> ''),
    display_name  text        NOT NULL,
    role          text        NOT NULL
        CONSTRAINT users_role_known CHECK (role IN ('operator', 'supervisor', 'executor', 'admin')),
    -- Argon2id PHC string.
    password_hash text        NOT NULL,
    -- An operator user is the person behind an operator (SIP extension);
    -- one user per operator. Removing the operator leaves the user without
    -- phone duties.
    operator_id   uuid        UNIQUE REFERENCES operators (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    -- Set when the user may no longer sign in.
    disabled_at   timestamptz,
    CONSTRAINT users_operator_only_for_operators CHECK (operator_id IS NULL OR role = 'operator')
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: the token itself is never stored,
    -- so a copy of the database signs nobody in.
    token_hash   text        NOT NULL PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Sent back with every state-changing request (X-CSRF-Token).
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
