-- One row per webhook delivery, unique by key. The payload is the last column so
-- that reading the others never walks its overflow pages.
CREATE TABLE webhook_delivery (
	id              INTEGER PRIMARY KEY,
	key             TEXT    NOT NULL UNIQUE,
	provider        TEXT    NOT NULL,
	event_type      TEXT    NOT NULL,
	target          TEXT    NOT NULL DEFAULT '',
	content_type    TEXT    NOT NULL DEFAULT '',
	received_at     INTEGER NOT NULL,
	state           TEXT    NOT NULL DEFAULT 'pending',
	outcome         TEXT    NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	processed_at    INTEGER,
	processed_count INTEGER NOT NULL DEFAULT 0,
	replays         INTEGER NOT NULL DEFAULT 0,
	payload         BLOB    NOT NULL
);
CREATE INDEX webhook_delivery_dead ON webhook_delivery (id) WHERE state = 'dead';
