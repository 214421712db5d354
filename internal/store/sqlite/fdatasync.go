package sqlite

import (
	moderncsqlite "modernc.org/sqlite"
)

// The driver commits with fsync(2) unless told otherwise, which on ext4 also
// pushes the file's new modification time through the journal at every
// commit: a second device flush that durability does not need. SQLite's own
// Linux builds use fdatasync(2), which syncs the data and the size but not
// the timestamps. The switch is process-wide, so it is made here, where every
// process that opens state.db or webhooks.db (both through this package's
// import) gets it before its first commit. On platforms without fdatasync
// the driver says so and keeps fsync.
func init() { _, _ = moderncsqlite.Fdatasync(true) }
