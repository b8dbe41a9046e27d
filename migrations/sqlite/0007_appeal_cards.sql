-- The appeal card's fields (000 §2.2.1), its category in the classifier,
-- the user who registered it and the appeal it repeats; and the counter
-- behind registration numbers (sqlite flavour; kept in step with the other).
--
-- Cards registered before this (the demo's) keep these columns empty; the
-- store requires them for every card it registers.

ALTER TABLE appeals ADD COLUMN surname       TEXT;
ALTER TABLE appeals ADD COLUMN first_name    TEXT;
ALTER TABLE appeals ADD COLUMN patronymic    TEXT;
ALTER TABLE appeals ADD COLUMN other_contact TEXT;
ALTER TABLE appeals ADD COLUMN essence       TEXT;
ALTER TABLE appeals ADD COLUMN email         TEXT;
-- phone, walk_in, web, chatbot.
ALTER TABLE appeals ADD COLUMN channel       TEXT;
-- The category as filed: a row of the classifier version in force then,
-- never deleted, so an old card keeps its category.
ALTER TABLE appeals ADD COLUMN category_id   TEXT REFERENCES classifier_categories (id);
-- A repeat appeal points at the original.
ALTER TABLE appeals ADD COLUMN repeat_of     TEXT REFERENCES appeals (id);
ALTER TABLE appeals ADD COLUMN registered_by TEXT REFERENCES users (id) ON DELETE SET NULL;

-- The last registration number given per year (1580-YYYY-NNNNNN).
CREATE TABLE registration_counters (
    year INTEGER NOT NULL PRIMARY KEY,
    last INTEGER NOT NULL
) STRICT;
