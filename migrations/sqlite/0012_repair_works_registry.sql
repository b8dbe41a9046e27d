-- Repair works registered by executors (docs/works.md): whose work it is
-- and who registered it (sqlite flavour; kept in step with the other).
ALTER TABLE repair_works ADD COLUMN executor_code TEXT;
ALTER TABLE repair_works ADD COLUMN registered_by TEXT;
