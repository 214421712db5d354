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
// A delivery is answered 202 only after its row and its job are committed
// and on disk. One fsync per request would cap the receiver at the disk's
// sync rate, so Intake has a single writer goroutine: requests that arrive
// while a transaction is being written wait together and go into the next
// one, which inserts every row, inserts one River job for the batch
// (InsertManyFastTx) and commits once. A second goroutine then makes the
// batch durable and answers it, while the writer fills the next batch:
//
//   - The connection runs synchronous=NORMAL, so COMMIT writes the WAL without
//     syncing it, and SyncWAL fdatasyncs the WAL file afterwards: the same
//     durability as synchronous=FULL (a committed transaction is in the synced
//     WAL), but the fsync no longer holds the write lock.
//
//   - The "received" audit records of the batch are appended and synced at the
//     same time, by the audit writer's own group commit.
//
//   - The payloads are not in the B-tree: the writer appends a batch's payloads
//     to a segment file (one write; payloads.go) before the rows, which keep
//     only segment, offset, length and CRC, and the segment is fdatasynced
//     beside the WAL. A 7.7 KB payload in SQLite was two overflow pages written
//     to the WAL and copied again by every checkpoint. A row whose payload did
//     not reach the disk before a power cut was never answered; Open deletes
//     it (recover.go) and the provider's retry stores it anew.
//
// A batch is answered only after a sync that began after its commit, so a
// duplicate is never answered 2xx before its original is on disk. Under load
// batches grow by themselves: while the sync stage is busy the writer keeps
// gathering instead of committing, since each commit has a fixed cost (the
// River job, index pages, three fsyncs) that a larger batch shares. An idle
// receiver commits each delivery alone, without waiting for company.
//
// # Jobs
//
// A BatchArgs job names the deliveries one commit stored; the worker handles
// them in order. A delivery whose handler fails is split off into its own
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
