package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// QueueName is the River queue of webhook jobs.
const QueueName = "webhooks"

// MaxIDsPerJob caps the deliveries named by one BatchArgs job, so that the
// tens or hundreds of deliveries of one index transaction still make jobs the
// worker runs side by side (WEBHOOK_WORKERS); at 256, one job ran a whole
// transaction's deliveries one after another, and the worker drained 5.4k
// deliveries a second instead of 13.5k.
const MaxIDsPerJob = 16

// BatchArgs is the job of up to MaxIDsPerJob deliveries one index
// transaction stored, in arrival order.
type BatchArgs struct {
	// IDs are deliveries in their first life (never replayed): a batch job
	// is made by the intake, or of what such a job left; a replayed
	// delivery is run by its replay's own job only.
	IDs []int64 `json:"ids"`
}

// Kind implements river.JobArgs.
func (BatchArgs) Kind() string { return "webhook_batch" }

// DeliveryArgs is the job of one delivery: a retry split off a batch, or a
// replay.
type DeliveryArgs struct {
	ID     int64 `json:"id"`
	Replay bool  `json:"replay,omitempty"`
	// Life is the life of the delivery the job was made for: its replays
	// count then, plus one. A job of an earlier life (one a stopped worker
	// left running, handed back by the rescue after a replay started the
	// next life) runs nothing: the replay's own job runs the delivery. 0 in
	// jobs made before it was recorded, which run as they did.
	Life int `json:"life,omitempty"`
}

// LifeOf is the Life of a job made now for d.
func LifeOf(d Delivery) int { return d.Replays + 1 }

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// Client is the River client on this database.
type Client = river.Client[*sql.Tx]

// RiverConfig configures NewRiver.
type RiverConfig struct {
	// Workers registers the job workers; nil makes an insert-only client
	// (the receiver with --no-worker, the replay command's enqueue step).
	Workers *river.Workers
	// MaxWorkers is how many jobs run at once (WEBHOOK_WORKERS).
	MaxWorkers int
	// ID names this client in river_job.attempted_by; see WorkerLock.
	ID string
	// FetchPollInterval is how often an idle worker looks for jobs. Default
	// 100ms.
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches while jobs keep
	// coming. Each fetch takes at most MaxWorkers jobs, so this caps the
	// worker at MaxWorkers jobs per FetchCooldown (River's default, 100ms,
	// would be 40 jobs a second with 4 workers: a steady 50 deliveries a
	// second would pile up forever). Default 2ms.
	FetchCooldown time.Duration
	// JobTimeout bounds one job. Default 5m.
	JobTimeout time.Duration
	// Logger receives River's own logs.
	Logger *slog.Logger
}

// NewRiver returns a River client on the write connection.
func (db *DB) NewRiver(cfg RiverConfig) (*Client, error) {
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = 100 * time.Millisecond
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = 2 * time.Millisecond
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5 * time.Minute
	}
	rc := &river.Config{
		ID:                cfg.ID,
		Logger:            cfg.Logger,
		JobTimeout:        cfg.JobTimeout,
		FetchPollInterval: cfg.FetchPollInterval,
		FetchCooldown:     min(cfg.FetchPollInterval, cfg.FetchCooldown),
		// A job left running by a process that died is handed back at
		// start-up by RescueOrphans; River's own rescuer is the backstop.
		RescueStuckJobsAfter: cfg.JobTimeout + 10*time.Minute,
		// The delivery row keeps the outcome; a completed job is of no use
		// after that, and at a batch job per commit they pile up fast.
		CompletedJobRetentionPeriod: time.Hour,
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{QueueName: {MaxWorkers: max(cfg.MaxWorkers, 1)}}
	}
	c, err := river.NewClient(riversqlite.New(db.write), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// RiverInserter returns the JobInserter that adds one BatchArgs job per
// MaxIDsPerJob new deliveries with River's InsertManyFastTx. maxAttempts is
// River's limit for the job, which bounds only the attempts that fail
// before the deliveries' outcomes are recorded (a delivery's own failures
// are split off into DeliveryArgs jobs); when it runs out the worker
// dead-letters the deliveries left.
func RiverInserter(c *Client, maxAttempts int) JobInserter {
	return func(ctx context.Context, tx *sql.Tx, ids []int64) error {
		params := make([]river.InsertManyParams, 0, (len(ids)+MaxIDsPerJob-1)/MaxIDsPerJob)
		for lo := 0; lo < len(ids); lo += MaxIDsPerJob {
			hi := min(lo+MaxIDsPerJob, len(ids))
			params = append(params, river.InsertManyParams{
				Args:       BatchArgs{IDs: ids[lo:hi]},
				InsertOpts: &river.InsertOpts{Queue: QueueName, MaxAttempts: max(maxAttempts, 1)},
			})
		}
		// The fast variant skips RETURNING the rows, which nobody reads here.
		if _, err := c.InsertManyFastTx(ctx, tx, params); err != nil {
			return fmt.Errorf("insert batch jobs: %w", err)
		}
		return nil
	}
}

// RescueOrphans hands back jobs left "running" by a client that is no longer
// alive (a process killed mid-job), so they run again now instead of after
// River's stuck-job timeout. It returns how many it released.
//
// Several workers may run it at once (they all do at start-up), and a job
// it finds orphaned may meanwhile be released by another of them and
// fetched again by a live client. A job is therefore released only if it
// is still in the run that was read: River counts up attempt on every
// fetch, so a job running again under the same attempt is the same run.
//
// A killed run counts as a failed attempt, as River's rescuer counts it: a
// job with attempts left runs again after backoff(attempt) (nil: at once),
// and one that has used them all is made available at once, for the worker to
// dead-letter its deliveries without running them (worker.exhausted). So a
// delivery that kills its worker every time is dead-lettered after
// WEBHOOK_MAX_ATTEMPTS runs, not retried at once for ever (found in review).
func (db *DB) RescueOrphans(ctx context.Context, alive func(clientID string) bool, backoff func(attempt int) time.Duration) (int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, attempt, max_attempts, `+attemptedByJSON+`
		FROM river_job WHERE state = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("list running jobs: %w", err)
	}
	type run struct{ id, attempt, max int64 }
	var orphans []run
	for rows.Next() {
		var r run
		var by sql.NullString
		if err := rows.Scan(&r.id, &r.attempt, &r.max, &by); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list running jobs: %w", err)
		}
		var clients []string
		_ = json.Unmarshal([]byte(by.String), &clients)
		if len(clients) == 0 || !alive(clients[len(clients)-1]) {
			orphans = append(orphans, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list running jobs: %w", err)
	}
	n := 0
	for _, r := range orphans {
		// River offers no API for a running job (JobRetry leaves those
		// alone); this is the state change its rescuer makes, but for a
		// job out of attempts, which River would discard (leaving its
		// deliveries pending with no job) and this hands to the worker.
		// Available, but not fetched before scheduled_at (River's fetch
		// checks it), so no wait for River's scheduler either.
		wait := time.Duration(0)
		if r.attempt < r.max && backoff != nil {
			wait = backoff(int(r.attempt))
		}
		res, err := db.write.ExecContext(ctx, `UPDATE river_job SET state = 'available',
			scheduled_at = datetime('now', 'subsec', '+' || ? || ' seconds')
			WHERE id = ? AND state = 'running' AND attempt = ?`, fmt.Sprintf("%.3f", wait.Seconds()), r.id, r.attempt)
		if err != nil {
			return n, fmt.Errorf("release job %d: %w", r.id, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// HandBack makes the jobs still running under clientID (this process's
// River client, whose stop could not end them: a handler that ignores its
// cancellation) available again at once, their attempt not counted, as
// River does for the jobs a stop cancels. Without it the next worker would
// rescue them as orphans of a killed worker, a failed attempt each, and one
// on its last attempt would be dead-lettered unrun (found in review).
// attempted_by is read through attemptedByJSON (found in review: the first
// version took the JSONB for text and matched no job River had fetched).
func (db *DB) HandBack(ctx context.Context, clientID string) (int, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE river_job SET state = 'available', attempt = max(attempt - 1, 0),
		scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running' AND json_extract(`+attemptedByJSON+`, '$[#-1]') = ?`, clientID)
	if err != nil {
		return 0, fmt.Errorf("hand back running jobs: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// attemptedByJSON is River's attempted_by (JSONB, which only json() turns
// into JSON text) as JSON text; a value changed out of band to invalid JSON
// text reads as NULL, no client, as River's own queries leave it alone
// rather than fail on it.
const attemptedByJSON = `CASE WHEN typeof(attempted_by) = 'text' AND NOT json_valid(attempted_by) THEN NULL ELSE json(attempted_by) END`

// JobCounts returns the number of River jobs of this queue in each state.
func (db *DB) JobCounts(ctx context.Context) (map[string]int, error) {
	return db.countByState(ctx, "count jobs", `SELECT state, count(*) FROM river_job WHERE queue = ? GROUP BY state`, QueueName)
}
