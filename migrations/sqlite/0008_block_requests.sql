-- "End call and block caller" pressed by an operator: the request, kept
-- until the block list (issue 6) acts on it (sqlite flavour; kept in step with
-- the other).

CREATE TABLE block_requests (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    call_id      TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- The number as the call had it (E.164 when it could be normalised).
    caller       TEXT NOT NULL,
    requested_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    at           TEXT NOT NULL,
    reason       TEXT NOT NULL
        CONSTRAINT block_requests_reason_not_blank CHECK (trim(reason) <> '')
) STRICT;

CREATE INDEX block_requests_call ON block_requests (call_id);
