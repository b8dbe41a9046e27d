-- "End call and block caller" pressed by an operator: the request, kept
-- until the block list (issue 6) acts on it (postgres flavour; kept in step with
-- the other).

CREATE TABLE block_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id      uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- The number as the call had it (E.164 when it could be normalised).
    caller       text NOT NULL,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    at           timestamptz NOT NULL,
    reason       text NOT NULL
        CONSTRAINT block_requests_reason_not_blank CHECK (trim(reason) <> '')
);

CREATE INDEX block_requests_call ON block_requests (call_id);
