-- The classifier of issue types: sections (water supply, heating, lifts...)
-- and their issue types, each with its executor organisation and deadline
-- class, imported from classifier/*.toml by `hotline classifier import`
-- (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0005_classifier.sql: same tables,
-- columns, constraints and indexes; native types here. Codes, names,
-- contacts and deadline classes are checked by src/classifier.rs before an
-- import; the database only refuses empty ones. deadline_class carries no
-- CHECK, as the enum-like columns of 0001: the Rust enum DeadlineClass
-- validates it when it is read. Codes are identifiers, so they collate "C"
-- (byte order), as in 0003.
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
    -- this key. Not an identity column: a rolled-back import would leave
    -- a gap in the numbers.
    version      integer     NOT NULL PRIMARY KEY
        CONSTRAINT classifier_versions_version_from_one CHECK (version >= 1),
    imported_at  timestamptz NOT NULL,
    -- The file imported, as named to the command.
    source       text        NOT NULL,
    -- SHA-256 (hex) of the content as parsed, not of the file's bytes (see
    -- src/classifier.rs): an import with the current version's hash
    -- changes nothing.
    content_hash text        NOT NULL
        CONSTRAINT classifier_versions_hash_not_empty CHECK (content_hash <> '')
);

CREATE TABLE classifier_executors (
    id          uuid    NOT NULL PRIMARY KEY,
    version     integer NOT NULL REFERENCES classifier_versions (version),
    -- Place in the file, from 0.
    ordinal     integer NOT NULL,
    -- Stable across versions ('vodokanal'); the row is per version.
    code        text    COLLATE "C" NOT NULL
        CONSTRAINT classifier_executors_code_not_empty CHECK (code <> ''),
    name        text    NOT NULL
        CONSTRAINT classifier_executors_name_not_blank CHECK (trim(name) <> ''),
    -- The responsible person, their position (NULL: not given), contacts.
    responsible text    NOT NULL,
    position    text,
    phone       text    NOT NULL,
    email       text    NOT NULL,
    address     text    NOT NULL,
    UNIQUE (version, code),
    -- Also serves listing a version's executors in file order.
    UNIQUE (version, ordinal),
    -- What classifier_categories' (version, executor_id) key refers to.
    UNIQUE (version, id)
);

CREATE TABLE classifier_categories (
    -- What a card will point at.
    id             uuid    NOT NULL PRIMARY KEY,
    version        integer NOT NULL REFERENCES classifier_versions (version),
    -- Tree order, from 0: sections in file order, each section's types in
    -- file order.
    ordinal        integer NOT NULL,
    section_code   text    COLLATE "C" NOT NULL
        CONSTRAINT classifier_categories_section_code_not_empty CHECK (section_code <> ''),
    section_name   text    NOT NULL
        CONSTRAINT classifier_categories_section_name_not_blank CHECK (trim(section_name) <> ''),
    -- Unique in a version across sections.
    type_code      text    COLLATE "C" NOT NULL
        CONSTRAINT classifier_categories_type_code_not_empty CHECK (type_code <> ''),
    type_name      text    NOT NULL
        CONSTRAINT classifier_categories_type_name_not_blank CHECK (trim(type_name) <> ''),
    executor_id    uuid    NOT NULL,
    -- emergency, short, medium, long, written.
    deadline_class text    NOT NULL,
    UNIQUE (version, type_code),
    -- Also serves listing a version's categories in tree order.
    UNIQUE (version, ordinal),
    -- The executor is a row of the same version. No index of its own:
    -- executors are never deleted, so nothing looks categories up by it.
    FOREIGN KEY (version, executor_id) REFERENCES classifier_executors (version, id)
);
