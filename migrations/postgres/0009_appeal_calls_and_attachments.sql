-- Calls attached to an appeal card after it was registered (the citizen
-- calls again about the same appeal), and the files attached to a card
-- (photos, video, documents: 000 §2.2.1 "other material"). Postgres flavour;
-- kept in step with the other.

-- The call a card was registered on stays in appeals.call_id; this holds
-- every further call attached to it.
CREATE TABLE appeal_calls (
    appeal_id   uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    call_id     uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    attached_by uuid REFERENCES users (id) ON DELETE SET NULL,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (appeal_id, call_id)
);

-- "Which cards is this call attached to", and deleting a call.
CREATE INDEX appeal_calls_call ON appeal_calls (call_id);

CREATE TABLE appeal_attachments (
    id           uuid   NOT NULL PRIMARY KEY,
    appeal_id    uuid   NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    -- The name the file had on the operator's computer, for the download;
    -- never used as a path.
    file_name    text   NOT NULL,
    content_type text   NOT NULL,
    size_bytes   bigint NOT NULL CONSTRAINT appeal_attachments_size CHECK (size_bytes >= 0),
    sha256       text   NOT NULL,
    -- Relative to [storage] attachments_dir, chosen by the server.
    path         text   NOT NULL UNIQUE,
    uploaded_by  uuid   REFERENCES users (id) ON DELETE SET NULL,
    uploaded_at  timestamptz NOT NULL
);

CREATE INDEX appeal_attachments_appeal ON appeal_attachments (appeal_id, uploaded_at);
