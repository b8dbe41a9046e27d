-- A supervisor's own softphone (kept in step with the sqlite flavour): an
-- operator record with no queues, rung when they listen in on a
-- conversation. Apart from `operator_id`, which makes an operator user the
-- operator they are: a supervisor never works as one.

ALTER TABLE users ADD COLUMN phone_operator_id UUID
    REFERENCES operators (id) ON DELETE SET NULL
    CONSTRAINT users_phone_only_for_supervisors
        CHECK (phone_operator_id IS NULL OR role = 'supervisor');
CREATE UNIQUE INDEX users_phone ON users (phone_operator_id)
    WHERE phone_operator_id IS NOT NULL;
