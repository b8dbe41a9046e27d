-- The reports' lists of open cards past or near their deadline (the
-- daily report's, the unresolved report's) read from one index that holds
-- every column they print, in deadline order (postgres flavour; kept in step
-- with the other). In a bad year that list is tens of thousands of cards.
CREATE INDEX appeals_report_list
    ON appeals (deadline, registration_number, executor, category_id, status, control,
        direct_control, extensions, created_at)
    WHERE finished_at IS NULL;
