-- Open311 GeoReport v2 (docs/open311.md; postgres flavour, kept in step
-- with the other): the applications allowed to file requests, each with its
-- key, and what an application's request brought beyond the card.

-- An application's key: only its SHA-256 is kept (the key is shown once,
-- when made). Revoked keys stay, so old cards still name their application.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE CONSTRAINT api_keys_name_not_blank CHECK (trim(name) <> ''),
    key_sha256   text NOT NULL UNIQUE,
    -- What a POST answers: 'id' (the request's id at once) or 'token' (a
    -- token to look the id up with, for clients written for that).
    answer       text NOT NULL CONSTRAINT api_keys_answer CHECK (answer IN ('id', 'token')),
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- A card filed through Open311: by which application, its token, and what
-- the request carried that the card has no field for.
CREATE TABLE open311_requests (
    appeal_id   uuid PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    api_key_id  uuid NOT NULL REFERENCES api_keys (id),
    token       text NOT NULL UNIQUE,
    -- The photo's address the application gave (shown on the card, and in
    -- the request's public view).
    media_url   text,
    account_id  text,
    device_id   text,
    created_at  timestamptz NOT NULL
);
