-- How the first attempt under a key was to be sent, for tools with more than
-- one way to send (sendMessage: 'api' or 'webhook'); '' for the others and for
-- rows claimed before it was recorded. A retry of a key in doubt can only look
-- for an effect made a way it can read.
ALTER TABLE idempotency_keys ADD COLUMN via TEXT NOT NULL DEFAULT '';
