-- Announcements staff publish to residents ("До відома мешканців", docs/web.md;
-- sqlite flavour, kept in step with the other): shown on the public works
-- page and its feeds from `published_at` until `until` passes or someone
-- withdraws it. Rows are kept: who published and who withdrew, when.
CREATE TABLE announcements (
    id            TEXT NOT NULL PRIMARY KEY,
    title         TEXT NOT NULL CONSTRAINT announcements_title_not_blank CHECK (trim(title) <> ''),
    body          TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    -- NULL: until withdrawn.
    until         TEXT,
    published_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- Kept should the user go.
    author_login  TEXT NOT NULL,
    withdrawn_at  TEXT,
    withdrawn_by  TEXT
) STRICT;

CREATE INDEX announcements_current ON announcements (published_at) WHERE withdrawn_at IS NULL;
