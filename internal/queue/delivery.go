package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// States of a delivery.
const (
	StatePending   = "pending"   // stored, not yet handled (or waiting for a retry)
	StateProcessed = "processed" // its handler finished
	StateDead      = "dead"      // failed WEBHOOK_MAX_ATTEMPTS times; waits for a replay
)

// ErrNotFound is returned for an unknown delivery.
var ErrNotFound = errors.New("delivery not found")

// NewDelivery is a verified delivery as the receiver hands it over.
type NewDelivery struct {
	Provider    string // "github", "stripe", "slack"
	Key         string // provider-scoped delivery id, e.g. "github:<hook id>:<guid>"
	EventType   string
	Target      string
	ContentType string
	Payload     []byte
	ReceivedAt  time.Time
}

// Delivery is a stored delivery.
type Delivery struct {
	ID             int64
	Key            string
	Provider       string
	EventType      string
	Target         string
	ContentType    string
	ReceivedAt     time.Time
	State          string
	Outcome        string
	Attempts       int
	LastError      string
	ProcessedAt    time.Time
	ProcessedCount int
	Replays        int
	Payload        []byte // only filled by Load
	// PayloadErr is why Load could not read the payload (Payload is then
	// nil). It wraps ErrTorn when the bytes are missing or fail their CRC:
	// damage that no retry mends. It is per delivery so that one damaged
	// payload does not keep the others of a batch from being handled.
	PayloadErr error
}

const deliveryColumns = `id, key, provider, event_type, target, content_type, received_at, state, outcome,
	attempts, last_error, processed_at, processed_count, replays`

// scanDelivery scans deliveryColumns and then into extra, if any; the
// payload column, when selected, goes last in extra as &d.Payload's stand-in
// (see Load).
func scanDelivery(sc interface{ Scan(...any) error }, extra ...any) (Delivery, error) {
	var d Delivery
	var received int64
	var processed sql.NullInt64
	dst := []any{&d.ID, &d.Key, &d.Provider, &d.EventType, &d.Target, &d.ContentType, &received, &d.State,
		&d.Outcome, &d.Attempts, &d.LastError, &processed, &d.ProcessedCount, &d.Replays}
	if len(extra) > 0 {
		dst = append(append(dst, extra...), &d.Payload)
	}
	if err := sc.Scan(dst...); err != nil {
		return d, err
	}
	d.ReceivedAt = time.UnixMilli(received)
	if processed.Valid {
		d.ProcessedAt = time.UnixMilli(processed.Int64)
	}
	return d, nil
}

// Load returns the deliveries with the given ids, payloads included, in the
// order of ids. Unknown ids are skipped. A payload that cannot be read is
// reported in that delivery's PayloadErr, not as Load's error, which is
// left for failures of the query itself.
func (db *DB) Load(ctx context.Context, ids []int64) ([]Delivery, error) {
	return db.load(ctx, ids, true)
}

// Get is Load without the payloads, for callers that need only the rows.
func (db *DB) Get(ctx context.Context, ids []int64) ([]Delivery, error) {
	return db.load(ctx, ids, false)
}

func (db *DB) load(ctx context.Context, ids []int64, payloads bool) ([]Delivery, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := make(map[int64]Delivery, len(ids))
	for lo := 0; lo < len(ids); lo += idChunk { // as in CountFinished
		if err := db.loadChunk(ctx, ids[lo:min(lo+idChunk, len(ids))], payloads, byID); err != nil {
			return nil, err
		}
	}
	out := make([]Delivery, 0, len(byID))
	for _, id := range ids {
		if d, ok := byID[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (db *DB) loadChunk(ctx context.Context, ids []int64, payloads bool, byID map[int64]Delivery) error {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+`, seg, seg_off, seg_len, seg_crc, payload
		FROM webhook_delivery WHERE id IN (`+placeholders(len(ids))+`)`, idArgs(ids)...)
	if err != nil {
		return fmt.Errorf("load deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seg sql.NullInt64
		var off, n int64
		var crc uint32
		d, err := scanDelivery(rows, &seg, &off, &n, &crc)
		if err != nil {
			return fmt.Errorf("load deliveries: %w", err)
		}
		if !payloads {
			d.Payload = nil
		} else if err := db.loadPayload(&d, seg, off, n, crc); err != nil {
			d.PayloadErr = err
		}
		byID[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load deliveries: %w", err)
	}
	return nil
}

// Find returns one delivery, without its payload, by numeric id or by key.
func (db *DB) Find(ctx context.Context, idOrKey string) (Delivery, error) {
	q, arg := `SELECT `+deliveryColumns+` FROM webhook_delivery WHERE key = ?`, any(idOrKey)
	if id, err := strconv.ParseInt(idOrKey, 10, 64); err == nil {
		q, arg = `SELECT `+deliveryColumns+` FROM webhook_delivery WHERE id = ?`, id
	}
	d, err := scanDelivery(db.read.QueryRowContext(ctx, q, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery %s: %w", idOrKey, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("find delivery %s: %w", idOrKey, err)
	}
	return d, nil
}

// List returns deliveries in a state, oldest first, without payloads; all
// states when state is "". limit <= 0 means no limit.
func (db *DB) List(ctx context.Context, state string, limit int) ([]Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM webhook_delivery`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// Counts returns how many deliveries are in each state.
func (db *DB) Counts(ctx context.Context) (map[string]int, error) {
	return db.countByState(ctx, "count deliveries", `SELECT state, count(*) FROM webhook_delivery GROUP BY state`)
}

// countByState runs a "state, count(*) ... GROUP BY state" query.
func (db *DB) countByState(ctx context.Context, what, query string, args ...any) (map[string]int, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// MarkProcessed records, inside tx, that a delivery's handler finished with
// outcome. It reports false when the delivery was already processed (a job
// run twice after a crash), so the caller can tell.
func (db *DB) MarkProcessed(ctx context.Context, tx *sql.Tx, id int64, outcome string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE webhook_delivery
		SET state = 'processed', outcome = ?, processed_at = ?, processed_count = processed_count + 1,
		    attempts = attempts + 1, last_error = ''
		WHERE id = ? AND state <> 'processed'`, outcome, db.now().UnixMilli(), id)
	if err != nil {
		return false, fmt.Errorf("mark delivery %d processed: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark delivery %d processed: %w", id, err)
	}
	return n == 1, nil
}

// RecordFailure records, inside tx, a failed attempt: the error text (already
// redacted by the caller) and, when dead, the dead-letter state.
func (db *DB) RecordFailure(ctx context.Context, tx *sql.Tx, id int64, errText string, dead bool) error {
	state := StatePending
	if dead {
		state = StateDead
	}
	_, err := tx.ExecContext(ctx, `UPDATE webhook_delivery
		SET state = ?, attempts = attempts + 1, last_error = ?
		WHERE id = ? AND state <> 'processed'`, state, errText, id)
	if err != nil {
		return fmt.Errorf("record failure of delivery %d: %w", id, err)
	}
	return nil
}

// Requeue makes delivery d pending again for a replay, inside tx: attempts
// start over and replays counts up. d is the delivery as the replay read
// it: if it changed since (another replay, or its job, got there first),
// the replay is refused with ErrChanged, so two replays that overlap never
// run it twice. A pending delivery that a River job may still run is
// refused: it is queued already, and a second job would run it twice. A
// pending delivery whose job is gone is accepted: its job ended without
// recording an outcome (River discarded it, or the worker could not
// dead-letter it), and nothing else would ever run it.
func (db *DB) Requeue(ctx context.Context, tx *sql.Tx, d Delivery) error {
	args := append([]any{d.ID, d.State, d.Replays}, liveJobArgs(d.ID, 0)...)
	res, err := tx.ExecContext(ctx, `UPDATE webhook_delivery
		SET state = 'pending', attempts = 0, last_error = '', replays = replays + 1
		WHERE id = ? AND state = ? AND replays = ? AND (state <> 'pending' OR NOT `+liveJobNames+`)`, args...)
	if err != nil {
		return fmt.Errorf("requeue delivery %d: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var state string
	var replays int
	if err := tx.QueryRowContext(ctx, `SELECT state, replays FROM webhook_delivery WHERE id = ?`, d.ID).Scan(&state, &replays); err != nil {
		return fmt.Errorf("requeue delivery %d: %w", d.ID, err)
	}
	if state != d.State || replays != d.Replays {
		return fmt.Errorf("requeue delivery %d (%s when read, %s now): %w", d.ID, d.State, state, ErrChanged)
	}
	return fmt.Errorf("requeue delivery %d: %w", d.ID, ErrPending)
}

// ErrPending is returned when replaying a delivery that is still queued.
var ErrPending = errors.New("delivery is pending already (queued or retrying)")

// ErrChanged is returned when replaying a delivery that changed after the
// replay read it: another replay, or its job, got there first.
var ErrChanged = errors.New("delivery changed while it was being replayed (another replay or its job got there first), so it was not replayed again")

// liveJobStates are the River job states in which a job may still run.
const liveJobStates = `('available', 'pending', 'retryable', 'running', 'scheduled')`

// liveJobNames is true when a River job that may still run (any state but
// completed, cancelled and discarded), other than the one excepted, names
// the delivery and would run it: a DeliveryArgs job by its id, of the
// delivery's current life; a BatchArgs job in its ids, of a delivery never
// replayed.
// Its arguments are liveJobArgs. River keeps the args as JSONB, which
// SQLite's JSON functions read.
const liveJobNames = `EXISTS (SELECT 1 FROM river_job j
	WHERE j.queue = ? AND j.state IN ` + liveJobStates + ` AND j.id <> ?
	AND ((j.kind = ? AND json_extract(j.args, '$.id') = ? AND ` + deliveryJobOfCurrentLife + `)
	  OR (j.kind = ? AND EXISTS (SELECT 1 FROM json_each(j.args, '$.ids') e
	    WHERE e.value = ? AND ` + batchEntryOfCurrentLife + `))))`

func liveJobArgs(id, exceptJob int64) []any {
	return []any{QueueName, exceptJob, DeliveryArgs{}.Kind(), id, BatchArgs{}.Kind(), id}
}

// Queued reports whether a River job that may still run, other than
// exceptJob (0: none), names the delivery.
func (db *DB) Queued(ctx context.Context, id, exceptJob int64) (bool, error) {
	var queued bool
	if err := db.read.QueryRowContext(ctx, `SELECT `+liveJobNames, liveJobArgs(id, exceptJob)...).Scan(&queued); err != nil {
		return false, fmt.Errorf("look for the job of delivery %d: %w", id, err)
	}
	return queued, nil
}

// Tx runs fn in a write transaction and commits it when fn returns nil. The
// commit is not synced: the worker's transactions (a delivery's outcome, its
// job's completion) may be lost in a power cut, and the job then runs again,
// which the handlers make harmless (the ledger records an event once; audit
// records are at-least-once after a crash). Syncing each of them would put
// an fdatasync beside every intake batch's, and the two queue in the
// filesystem's journal.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// TxDurable is Tx whose commit is on disk when it returns (SyncWAL), for
// operator actions such as a replay.
func (db *DB) TxDurable(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := db.Tx(ctx, fn); err != nil {
		return err
	}
	return db.SyncWAL()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// CountFinished returns how many of ids are no longer pending (processed or
// dead).
// It counts in chunks of idChunk ids: `webhooks replay --all-dead` waits
// on every dead letter of an outage, and one statement binds at most
// 32,766 values in SQLite (found in review: a larger backlog was replayed,
// then reported failed).
func (db *DB) CountFinished(ctx context.Context, ids []int64) (int, error) {
	total := 0
	for lo := 0; lo < len(ids); lo += idChunk {
		chunk := ids[lo:min(lo+idChunk, len(ids))]
		var n int
		err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_delivery WHERE state <> 'pending' AND id IN (`+
			placeholders(len(chunk))+`)`, idArgs(chunk)...).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count finished deliveries: %w", err)
		}
		total += n
	}
	return total, nil
}

// idChunk is how many ids one statement binds, well under SQLite's limit of
// 32,766 values per statement.
const idChunk = 1000

func idArgs(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// Prune deletes processed deliveries processed before before, at most limit
// rows per call (so the write lock is held briefly), and returns how many.
// It then deletes the segment files no row points into any more and lets
// go of this process's descriptors of those, and of the files another
// process deleted: it does so even when it deleted no row itself, for a
// process beside another one that prunes first would otherwise keep the
// deleted files, and their disk space, as long as it runs.
func (db *DB) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.prune(ctx, before, limit, true)
}

// prune is Prune; stranded says whether stranded deliveries are looked for
// (a pass over every live job's ids), which PruneAll does once per pass.
func (db *DB) prune(ctx context.Context, before time.Time, limit int, stranded bool) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM webhook_delivery WHERE id IN (
		SELECT id FROM webhook_delivery WHERE state = 'processed' AND processed_at < ? ORDER BY id LIMIT ?)`,
		before.UnixMilli(), limit)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	// A dead letter parkDead could not move keeps its segment (keep), so
	// the segments are freed even when parking failed.
	parkErr := db.parkDead(ctx, stranded)
	if parkErr != nil {
		parkErr = fmt.Errorf("prune deliveries: %w", parkErr)
	}
	below, keep, err := db.segmentsInUse(ctx)
	if err != nil {
		return n, errors.Join(parkErr, fmt.Errorf("prune deliveries: %w", err))
	}
	if err := db.segs.removeBelow(below, keep); err != nil {
		return n, errors.Join(parkErr, fmt.Errorf("prune deliveries: %w", err))
	}
	return n, parkErr
}

// parkMaxBytes bounds the payload bytes parkDead moves in one transaction.
const parkMaxBytes = 8 << 20

// parkDead moves the payloads of dead letters out of the segments, into
// their rows (the payload column, which rows of the earlier format use):
// a dead letter is kept until someone replays it, perhaps never, and a row
// pointing into a segment keeps that segment and every later one on disk,
// and open in each process that read them, as segments are freed from the
// oldest row's up (found in review: one dead letter kept every 64 MiB
// segment written after it). Stranded deliveries (pending, but named by no
// job that may still run; see Stranded) are moved too: they are left by a
// job that gave up while the store was failing, a full disk say, and
// pinning every later segment would then keep the disk full for good. A
// delivery a job will still run keeps its place: moving a backlog into the
// database would rewrite it for nothing. Telling the two apart is a pass
// over every live job's ids, so PruneAll looks for stranded ones in its
// first chunk only (every 30 s in the worker), not in every chunk. Only segments before the mark's,
// which the intake no longer writes, are left this way; a payload that
// reads torn stays where it is (its segment stays too), as nothing could be
// moved. The commit is synced before the segments are removed: a power cut
// must not keep the removal and lose the payload.
func (db *DB) parkDead(ctx context.Context, stranded bool) error {
	var mark sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT seg FROM webhook_segment_mark WHERE id = 1`).Scan(&mark); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("park dead letters: %w", err)
	}
	if !mark.Valid {
		return nil
	}
	for {
		rows, err := db.read.QueryContext(ctx, liveIDsCTE+`
			SELECT id, state, seg, seg_off, seg_len, seg_crc FROM webhook_delivery
			WHERE seg IS NOT NULL AND seg < ?5 AND (state = 'dead' OR
				(?6 AND state = 'pending' AND id NOT IN (SELECT id FROM live WHERE id IS NOT NULL)))
			ORDER BY id`, QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind(), 0, mark.Int64, stranded)
		if err != nil {
			return fmt.Errorf("park dead letters: %w", err)
		}
		type parked struct {
			id    int64
			state string
			ref   payloadRef
			p     []byte
		}
		var batch []parked
		size, more := 0, false
		for rows.Next() {
			var pk parked
			if err := rows.Scan(&pk.id, &pk.state, &pk.ref.seg, &pk.ref.off, &pk.ref.n, &pk.ref.crc); err != nil {
				_ = rows.Close()
				return fmt.Errorf("park dead letters: %w", err)
			}
			if size > 0 && size+int(pk.ref.n) > parkMaxBytes {
				more = true
				break
			}
			p, err := db.segs.read(pk.ref)
			if errors.Is(err, ErrTorn) {
				continue
			}
			if err != nil {
				_ = rows.Close()
				return fmt.Errorf("park dead letter %d: %w", pk.id, err)
			}
			pk.p, size = p, size+len(p)
			batch = append(batch, pk)
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("park dead letters: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		err = db.TxDurable(ctx, func(tx *sql.Tx) error {
			for _, pk := range batch {
				// Only if it is still that dead letter, or still stranded: a
				// replay may have queued it meanwhile, and a worker may be
				// reading it.
				if _, err := tx.ExecContext(ctx, liveIDsCTE+` UPDATE webhook_delivery
					SET payload = ?5, seg = NULL, seg_off = 0, seg_len = 0, seg_crc = 0
					WHERE id = ?6 AND state = ?7 AND seg = ?8 AND seg_off = ?9 AND seg_len = ?10
					AND (state = 'dead' OR id NOT IN (SELECT id FROM live WHERE id IS NOT NULL))`,
					QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind(), 0,
					pk.p, pk.id, pk.state, pk.ref.seg, pk.ref.off, pk.ref.n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("park dead letters: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// PruneAll runs Prune in chunks of chunk rows until fewer than a chunk are
// left, or until budget has passed after the first chunk, and returns how
// many rows it deleted. One chunk per pass would fall behind any sustained
// intake (1,000 rows every 30 seconds is 33 a second), and the retention
// bound would then never hold; a pass without end would hold the write
// lock, which the intake shares, through a large backlog. Between chunks it
// waits as long as the last chunk took, so that the intake, in this process
// or in another one waiting on SQLite's busy handler, gets the lock for at
// least half the time; what budget leaves is pruned by the next pass.
func (db *DB) PruneAll(ctx context.Context, before time.Time, chunk int, budget time.Duration) (int64, error) {
	chunk = max(chunk, 1)
	start := time.Now()
	var total int64
	for first := true; ; first = false {
		began := time.Now()
		n, err := db.prune(ctx, before, chunk, first)
		total += n
		if err != nil || n < int64(chunk) {
			return total, err
		}
		took := time.Since(began)
		if time.Since(start)+took >= budget {
			return total, nil
		}
		pause := time.NewTimer(took)
		select {
		case <-ctx.Done():
			pause.Stop()
			return total, fmt.Errorf("prune deliveries: %w", ctx.Err())
		case <-pause.C:
		}
	}
}

// segmentsInUse returns the oldest segment that a row points into or
// that a row may point into once the intake (perhaps in another process)
// commits its next batches: the segments before it are free.
//
// The rows alone do not tell: a batch may commit into segment N, and the
// intake move on to N+1, after they were read, and N would then look free
// beside the newer file. So the bound is taken from one snapshot holding
// both the oldest segment a row points into and the segment mark, the
// segment of the last batch committed: every later batch goes into that
// segment or a newer one, and so do the rows recovery rebuilds from the
// records past the mark. Without a mark (only rows of the earlier format),
// the newest file, listed before the snapshot, stands in for it.
//
// Dead letters are left out of the bound: one is kept until replayed,
// perhaps never, and would keep every later segment. parkDead has moved
// their payloads into their rows; the segments of those it could not (a
// payload that reads torn) are returned in keep, and must stay. Bound and
// keep come from one snapshot: a row turning dead (a worker) or pending (a
// replay) is then in one or the other, and a row's segment never changes
// but to none (parkDead), so every row pointing below the bound is a dead
// letter in keep.
func (db *DB) segmentsInUse(ctx context.Context) (bound int64, keep map[int64]bool, err error) {
	ns, err := db.segs.list()
	if err != nil {
		return 0, nil, err
	}
	if len(ns) == 0 {
		return 0, nil, nil // a segment made from now on is in use
	}
	bound = ns[len(ns)-1]
	var oldest, mark sql.NullInt64
	var dead sql.NullString
	err = db.read.QueryRowContext(ctx, `SELECT
		(SELECT seg FROM webhook_delivery WHERE seg IS NOT NULL AND state <> 'dead' ORDER BY id LIMIT 1),
		(SELECT seg FROM webhook_segment_mark WHERE id = 1),
		(SELECT group_concat(DISTINCT seg) FROM webhook_delivery WHERE state = 'dead' AND seg IS NOT NULL)`).
		Scan(&oldest, &mark, &dead)
	if err != nil {
		return 0, nil, fmt.Errorf("payload segments in use: %w", err)
	}
	if !mark.Valid {
		// No transaction of the intake has committed yet, so rows do not
		// tell which segments hold records still waiting for one (after a
		// power cut that lost every commit, all of them): keep every
		// segment until one has.
		return 0, nil, nil
	}
	bound = min(bound, mark.Int64)
	if oldest.Valid {
		bound = min(bound, oldest.Int64)
	}
	if dead.Valid {
		keep = map[int64]bool{}
		for _, f := range strings.Split(dead.String, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("payload segments in use: %q: %w", f, err)
			}
			keep[n] = true
		}
	}
	return bound, keep, nil
}
