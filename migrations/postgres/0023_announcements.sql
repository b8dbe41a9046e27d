-- Announcements staff publish to residents ("До відома мешканців", docs/web.md;
-- postgres flavour, kept in step with the other): shown on the public works
-- page and its feeds from `published_at` until `until` passes or someone
-- withdraws it. Rows are kept: who published and who withdrew, when.
CREATE TABLE announcements (
    id            uuid PRIMARY KEY,
    title         text NOT NULL CONSTRAINT announcements_title_not_blank CHECK (trim(title) <> ''),
    body          text NOT NULL,
    published_at  timestamptz NOT NULL,
    -- NULL: until withdrawn.
    until         timestamptz,
    published_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Kept should the user go.
    author_login  text NOT NULL,
    withdrawn_at  timestamptz,
    withdrawn_by  text
);

CREATE INDEX announcements_current ON announcements (published_at) WHERE withdrawn_at IS NULL;
