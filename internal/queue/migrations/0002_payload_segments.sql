-- A row stored by an Intake keeps its payload in a segment file (seg, seg_off,
-- seg_len, seg_crc; see payloads.go) and an empty payload column; older rows
-- keep theirs inline.
ALTER TABLE webhook_delivery ADD COLUMN seg INTEGER;
ALTER TABLE webhook_delivery ADD COLUMN seg_off INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_delivery ADD COLUMN seg_len INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_delivery ADD COLUMN seg_crc INTEGER NOT NULL DEFAULT 0;
