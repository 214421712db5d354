// Package queue stores webhook deliveries and their jobs in one embedded
// SQLite file (DATA_DIR/webhooks.db) with River (riversqlite) as the job
// queue.
//
// The architecture puts stores under internal/store; the delivery table lives
// here for now because internal/store/sqlite was being written by someone
// else at the time. It is a separate file from state.db on purpose: SQLite
// has one writer per file, and the receiver must not queue behind the
// idempotency store's commits.
//
// # Group commit
//
// A delivery is answered 202 only after it is on disk: its record in the
// payload segment, which is the intake's write-ahead log. One fsync per
// request would cap the receiver at the disk's sync rate, so Intake has a
// single writer goroutine: requests that arrive while a batch is being
// written or synced wait together and go into the next one. Per batch the
// writer appends every delivery's record (its row fields, payload and CRCs;
// record.go) to the segment in one write. A second goroutine then
// fdatasyncs the segment once for every batch written meanwhile and
// answers (Accept), while the writer fills the next batch. A third, the
// index stage, then inserts the rows, one River job per at most 16
// deliveries (InsertManyFastTx) and the segment mark in one SQLite
// transaction per group of synced batches, appending the receipts
// (Receipts: the "received" audit records, which the audit log syncs
// within milliseconds, unawaited) just before it commits, once (a retried
// commit does not give them again),
// gathering for up to 5 ms while deliveries keep coming: a transaction's
// fixed cost (the River insert, index pages, WAL frames, their CPU in this
// pure-Go SQLite) is shared by tens of deliveries (about 33 at c=16; gathering stops at
// 1024) instead
// of half a dozen, and it is no longer between a delivery and its answer.
//
//   - The connection runs synchronous=NORMAL and the WAL is not synced per
//     transaction: the segment record is what keeps an answered delivery.
//     After a crash or power cut, NewIntake re-inserts the rows and jobs of
//     records past the segment mark (transactions lost, or never run), and
//     turns rows whose record is torn (never answered) into tombstones
//     (recover.go).
//
//   - A duplicate is found by the key's unique index when its row is
//     inserted: it is answered 202 like any stored delivery (its record is
//     on disk, and unused), its receipt says duplicate, and no job is made
//     for it. Finding it before the answer would cost a read of the index
//     per delivery, about as much as the transaction it replaced.
//
//   - The payloads are not in the B-tree: a row keeps only segment, offset,
//     length and CRC. A 7.7 KB payload in SQLite was two overflow pages
//     written to the WAL and copied again by every checkpoint.
//
// A batch is answered only after a sync that began after its records were
// written, so a duplicate is never answered 2xx before its original's
// record is on disk. Under load batches grow by themselves: while the sync
// stage is busy the writer keeps gathering instead of writing, so there is
// one write and one sync per batch. An idle receiver writes, syncs and
// commits each delivery alone, without waiting for company. Enqueue, which
// waits for the row, is for tests; the receiver uses Accept.
//
// # Jobs
//
// A BatchArgs job names up to 16 of the deliveries one index transaction
// stored, in arrival order; the worker handles them in order, and runs
// several such jobs side by side (WEBHOOK_WORKERS). A delivery whose handler fails is split off into its own
// DeliveryArgs job, which retries with backoff and is dead-lettered after
// WEBHOOK_MAX_ATTEMPTS. Replays are DeliveryArgs jobs too.
//
// # Connections
//
// Writes (the intake, River) share one connection, as riversqlite asks, so
// they queue in Go instead of in SQLite's busy handler, which sleeps.
// Reads of payloads and listings use a separate read-only pool; WAL lets
// them run beside the writer. The write connection keeps its compiled
// statements (stmtcache.go): riversqlite sends SQL text, and compiling it on
// every insert was the receiver's largest single cost.
//
// A separate `saas-mcp worker` process writes to the same file through its
// own connection; the two then meet in SQLite's busy handler, which sleeps,
// so the in-process worker (the default) gives the receiver lower tail
// latency.
package queue
