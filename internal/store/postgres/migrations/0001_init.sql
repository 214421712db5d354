-- One row per idempotency key: who claimed it, in what state, and the stored
-- result once committed. See internal/idempotency for the states. The result
-- is bytea so it comes back byte for byte.
CREATE TABLE idempotency_keys (
    key         text        NOT NULL PRIMARY KEY,
    tool        text        NOT NULL,
    args_hash   text        NOT NULL,
    target      text        NOT NULL DEFAULT '',
    owner       text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('claimed', 'committed', 'in_doubt')),
    result      bytea,
    claimed_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Prune deletes by expiry.
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- InDoubt looks only at keys that are not committed, a small minority.
CREATE INDEX idempotency_keys_open ON idempotency_keys (claimed_at)
    WHERE state <> 'committed';

-- Every Stripe event recorded, once, by event id. A stale event (older than
-- one already applied to the same object) is kept but not applied.
CREATE TABLE payments (
    event_id    text        COLLATE "C" NOT NULL PRIMARY KEY,
    type        text        NOT NULL,
    object_id   text        NOT NULL,
    customer    text        NOT NULL,
    email       text        NOT NULL,
    amount      bigint      NOT NULL,
    currency    text        NOT NULL,
    created     timestamptz NOT NULL,
    livemode    boolean     NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    stale       boolean     NOT NULL DEFAULT false
);

CREATE INDEX payments_object ON payments (object_id, created);

-- The newest event applied per object, so events arriving out of order never
-- roll an object back: an event applies only if (created, event id) is newer.
-- Event ids compare byte by byte (COLLATE "C"), as in SQLite, whatever the
-- database's locale.
CREATE TABLE payment_objects (
    object_id          text        NOT NULL PRIMARY KEY,
    last_event_created timestamptz NOT NULL,
    last_event_id      text        COLLATE "C" NOT NULL REFERENCES payments (event_id)
);
