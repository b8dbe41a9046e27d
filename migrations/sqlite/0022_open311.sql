-- Open311 GeoReport v2 (docs/open311.md; sqlite flavour, kept in step with
-- the other): the applications allowed to file requests, each with its key,
-- and what an application's request brought beyond the card.

-- An application's key: only its SHA-256 is kept (the key is shown once,
-- when made). Revoked keys stay, so old cards still name their application.
CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE CONSTRAINT api_keys_name_not_blank CHECK (trim(name) <> ''),
    key_sha256   TEXT NOT NULL UNIQUE,
    -- What a POST answers: 'id' (the request's id at once) or 'token' (a
    -- token to look the id up with, for clients written for that).
    answer       TEXT NOT NULL CONSTRAINT api_keys_answer CHECK (answer IN ('id', 'token')),
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;

-- A card filed through Open311: by which application, its token, and what
-- the request carried that the card has no field for.
CREATE TABLE open311_requests (
    appeal_id   TEXT NOT NULL PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    api_key_id  TEXT NOT NULL REFERENCES api_keys (id),
    token       TEXT NOT NULL UNIQUE,
    -- The photo's address the application gave (shown on the card, and in
    -- the request's public view).
    media_url   TEXT,
    account_id  TEXT,
    device_id   TEXT,
    created_at  TEXT NOT NULL
) STRICT;
