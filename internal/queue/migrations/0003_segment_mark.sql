-- The segment mark, the one row every intake commit updates: how far into the
-- segments SQLite holds the records (recover.go).
CREATE TABLE webhook_segment_mark (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	seg         INTEGER NOT NULL,
	seg_end     INTEGER NOT NULL,
	seg_durable INTEGER NOT NULL
);
