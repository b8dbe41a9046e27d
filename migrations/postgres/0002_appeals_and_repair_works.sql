-- Appeals and repair works: what the IVR reads to tell a caller about their
-- appeals and about outages at their address, and what the operator card
-- will write (PostgreSQL flavour).
--
-- Kept in step with migrations/sqlite/0002_appeals_and_repair_works.sql:
-- same tables, columns, constraints and indexes; native types here.
-- Enum-like columns (status, kind, service) carry no CHECK, as in 0001.

CREATE TABLE appeals (
    id                  uuid        NOT NULL PRIMARY KEY,
    -- Told to the citizen, e.g. '1580-2026-000123'.
    registration_number text        NOT NULL UNIQUE,
    -- The number's digits only, written by the store: callers type the
    -- number on the keypad, without dashes. Unique, so what a caller can
    -- type names at most one appeal; and a number must have digits.
    registration_digits text        NOT NULL UNIQUE
        CONSTRAINT appeals_registration_has_digits CHECK (registration_digits <> ''),
    status              text        NOT NULL,
    -- The classifier's path or name, and the executing organisation; free
    -- text until the classifier and executors have tables of their own.
    category            text        NOT NULL,
    executor            text        NOT NULL,
    deadline            timestamptz NOT NULL,
    -- E.164.
    caller_phone        text        NOT NULL,
    -- Place of residence as the operator wrote it.
    address             text,
    created_at          timestamptz NOT NULL,
    -- The call it was registered on; a purge of old calls keeps the appeal
    -- (appeals are kept 3 years, calls need not be).
    call_id             uuid        REFERENCES calls (id) ON DELETE SET NULL
);

-- The IVR looks up a caller's appeals, newest first.
CREATE INDEX appeals_caller_phone ON appeals (caller_phone, created_at);
-- Deadline control: open appeals of a status by deadline.
CREATE INDEX appeals_status_deadline ON appeals (status, deadline);
-- Deleting a call sets its appeals' call_id to NULL; without this index that
-- scans every appeal.
CREATE INDEX appeals_call ON appeals (call_id);

CREATE TABLE repair_works (
    id           uuid        NOT NULL PRIMARY KEY,
    kind         text        NOT NULL,
    service      text        NOT NULL,
    description  text        NOT NULL,
    starts_at    timestamptz NOT NULL,
    expected_end timestamptz NOT NULL,
    -- Set when the executor closes the record.
    ended_at     timestamptz,
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL
);

-- Works in progress are the few not yet ended; the IVR reads them on calls.
CREATE INDEX repair_works_open ON repair_works (starts_at) WHERE ended_at IS NULL;

-- No index on lower(street): streets are matched against a caller's
-- free-text address in Rust (SQLite's lower() folds ASCII only, so it would
-- disagree with PostgreSQL on Cyrillic), and "street inside address" is not
-- a lookup any index on street serves.
CREATE TABLE repair_work_addresses (
    -- An address means nothing without its work.
    work_id  uuid    NOT NULL REFERENCES repair_works (id) ON DELETE CASCADE,
    -- Order in which the executor listed the addresses.
    ordinal  integer NOT NULL,
    street   text    NOT NULL
        CONSTRAINT repair_work_addresses_street_not_blank CHECK (trim(street) <> ''),
    -- NULL: the whole street.
    house    text
        CONSTRAINT repair_work_addresses_house_not_blank CHECK (trim(house) <> ''),
    PRIMARY KEY (work_id, ordinal)
);
