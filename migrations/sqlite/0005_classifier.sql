-- The classifier of issue types: sections (water supply, heating, lifts...)
-- and their issue types, each with its executor organisation and deadline
-- class, imported from classifier/*.toml by `hotline classifier import`
-- (SQLite flavour).
--
-- Kept in step with migrations/postgres/0005_classifier.sql: same tables,
-- columns, constraints and indexes; only the types differ. Encodings as in
-- 0001 (UUIDs and timestamps are TEXT written by src/store). Codes, names,
-- contacts and deadline classes are checked by src/classifier.rs before an
-- import; the database only refuses empty ones. deadline_class carries no
-- CHECK, as the enum-like columns of 0001: the Rust enum DeadlineClass
-- validates it when it is read.
--
-- Versioned: an import that changes the content adds a version with its own
-- executors and categories, all in one transaction. Rows are never updated
-- nor deleted (no ON DELETE on the keys: deleting a version that has rows
-- fails), so a card filed under a category keeps that category, and through
-- it that executor and deadline class, when a newer version replaces them.
-- The newest version is the current one. Sections have no table of their
-- own: each category carries its section's code and name.

CREATE TABLE classifier_versions (
    -- 1, 2, 3...: the store numbers an import after the current version,
    -- in the import's transaction; of two imports at once, one fails on
    -- this key.
    version      INTEGER NOT NULL PRIMARY KEY
        CONSTRAINT classifier_versions_version_from_one CHECK (version >= 1),
    imported_at  TEXT    NOT NULL,
    -- The file imported, as named to the command.
    source       TEXT    NOT NULL,
    -- SHA-256 (hex) of the content as parsed, not of the file's bytes (see
    -- src/classifier.rs): an import with the current version's hash
    -- changes nothing.
    content_hash TEXT    NOT NULL
        CONSTRAINT classifier_versions_hash_not_empty CHECK (content_hash <> '')
) STRICT;

CREATE TABLE classifier_executors (
    id          TEXT    NOT NULL PRIMARY KEY,
    version     INTEGER NOT NULL REFERENCES classifier_versions (version),
    -- Place in the file, from 0.
    ordinal     INTEGER NOT NULL,
    -- Stable across versions ('vodokanal'); the row is per version.
    code        TEXT    NOT NULL
        CONSTRAINT classifier_executors_code_not_empty CHECK (code <> ''),
    name        TEXT    NOT NULL
        CONSTRAINT classifier_executors_name_not_blank CHECK (trim(name) <> ''),
    -- The responsible person, their position (NULL: not given), contacts.
    responsible TEXT    NOT NULL,
    position    TEXT,
    phone       TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    UNIQUE (version, code),
    -- Also serves listing a version's executors in file order.
    UNIQUE (version, ordinal),
    -- What classifier_categories' (version, executor_id) key refers to.
    UNIQUE (version, id)
) STRICT;

CREATE TABLE classifier_categories (
    -- What a card will point at.
    id             TEXT    NOT NULL PRIMARY KEY,
    version        INTEGER NOT NULL REFERENCES classifier_versions (version),
    -- Tree order, from 0: sections in file order, each section's types in
    -- file order.
    ordinal        INTEGER NOT NULL,
    section_code   TEXT    NOT NULL
        CONSTRAINT classifier_categories_section_code_not_empty CHECK (section_code <> ''),
    section_name   TEXT    NOT NULL
        CONSTRAINT classifier_categories_section_name_not_blank CHECK (trim(section_name) <> ''),
    -- Unique in a version across sections.
    type_code      TEXT    NOT NULL
        CONSTRAINT classifier_categories_type_code_not_empty CHECK (type_code <> ''),
    type_name      TEXT    NOT NULL
        CONSTRAINT classifier_categories_type_name_not_blank CHECK (trim(type_name) <> ''),
    executor_id    TEXT    NOT NULL,
    -- emergency, short, medium, long, written.
    deadline_class TEXT    NOT NULL,
    UNIQUE (version, type_code),
    -- Also serves listing a version's categories in tree order.
    UNIQUE (version, ordinal),
    -- The executor is a row of the same version. No index of its own:
    -- executors are never deleted, so nothing looks categories up by it.
    FOREIGN KEY (version, executor_id) REFERENCES classifier_executors (version, id)
) STRICT;
