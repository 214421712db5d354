-- The type of the newest event applied per object, beside its created time
-- and id: events of one object created in the same second are ordered by
-- their type's place in the object's life (payments.Rank) before their ids,
-- which Stripe draws at random. It is kept in the object's row, not read
-- from payments by the upsert that moves an object forward, so that the
-- upsert compares against the row it locked: under PostgreSQL, the payments
-- row of an event that a concurrent Record committed while the upsert waited
-- for that lock is not in the upsert's snapshot. Rows from before: the type
-- of their event.
ALTER TABLE payment_objects ADD COLUMN last_event_type text NOT NULL DEFAULT '';
UPDATE payment_objects SET last_event_type = COALESCE(
    (SELECT type FROM payments WHERE payments.event_id = payment_objects.last_event_id), '');
