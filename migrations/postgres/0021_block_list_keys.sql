-- The block list holds more than phone numbers (postgres flavour; kept in
-- step with the other): an e-mail address (`mailto:…`, as the public form
-- refuses it) and a messenger account (`telegram:…`, `viber:…`) beside an
-- E.164 number. The column keeps its name; its check widens.

ALTER TABLE blocked_numbers DROP CONSTRAINT blocked_numbers_number_e164;
ALTER TABLE blocked_numbers ADD CONSTRAINT blocked_numbers_key CHECK (
    number LIKE '+%' OR number LIKE 'mailto:%'
    OR number LIKE 'telegram:%' OR number LIKE 'viber:%');
