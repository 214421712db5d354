-- Times are INTEGER Unix nanoseconds (UTC); booleans are 0 or 1.

-- One row per idempotency key: who claimed it, in what state, and the stored
-- result once committed. See internal/idempotency for the states.
-- The table is clustered on key (WITHOUT ROWID) and has no other index: every
-- tool call writes it twice, and each index would cost a page per write.
-- InDoubt and Prune, which run now and then, scan it; it holds only the keys
-- of the last day.
CREATE TABLE idempotency_keys (
    key         TEXT    NOT NULL PRIMARY KEY,
    tool        TEXT    NOT NULL,
    args_hash   TEXT    NOT NULL,
    target      TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('claimed', 'committed', 'in_doubt')),
    result      BLOB,
    claimed_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Every Stripe event recorded, once, by event id. A stale event (older than
-- one already applied to the same object) is kept but not applied.
CREATE TABLE payments (
    event_id    TEXT    NOT NULL PRIMARY KEY,
    type        TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    customer    TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    livemode    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    stale       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX payments_object ON payments (object_id, created);

-- The newest event applied per object, so events arriving out of order never
-- roll an object back: an event applies only if (created, event id) is newer.
CREATE TABLE payment_objects (
    object_id          TEXT    NOT NULL PRIMARY KEY,
    last_event_created INTEGER NOT NULL,
    last_event_id      TEXT    NOT NULL REFERENCES payments (event_id)
);
