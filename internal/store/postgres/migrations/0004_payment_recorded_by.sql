-- Who booked each event (payments.Event.By: a recordPaymentEvent call's key
-- and claim, or a webhook delivery's key), so that a repeat by the same
-- booker, after a crash between the ledger's commit and the booker's audit
-- record, is told it booked the event in an earlier attempt rather than
-- that someone had: otherwise no audit record would ever say the event was
-- booked. Rows from before: '' (no booker; every repeat is a duplicate).
ALTER TABLE payments ADD COLUMN recorded_by text NOT NULL DEFAULT '';
