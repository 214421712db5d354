package worker

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// lockingSink is an audit sink that, right after it has taken the first
// "processed" record, holds webhooks.db's write lock from another
// connection (as a kill -9 of the worker, or a store that cannot commit,
// would leave the step): the outcome's commit fails after the record is
// written.
type lockingSink struct {
	memSink
	path string
	once sync.Once
	held chan struct{}
	t    *testing.T
}

func (s *lockingSink) Write(ctx context.Context, r audit.Record) error {
	err := s.memSink.Write(ctx, r)
	if r.Status == audit.StatusProcessed {
		s.once.Do(func() {
			db, oerr := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(5000)")
			require.NoError(s.t, oerr)
			conn, cerr := db.Conn(context.Background())
			require.NoError(s.t, cerr)
			_, lerr := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
			require.NoError(s.t, lerr)
			go func() {
				time.Sleep(700 * time.Millisecond) // past the worker's busy timeout
				_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
				conn.Close()
				db.Close()
				close(s.held)
			}()
		})
	}
	return err
}

// TestARunWhoseOutcomeCommitFailedIsToldApartFromItsRerunInTheLog: a GitHub
// delivery whose outcome commit fails once after its audit record was
// written (a worker killed there behaves the same: the job runs again) is
// processed once by its row, and the log holds two "processed" records of
// the same delivery attempt. Nothing told the second from a second
// processing (found in review, in chaos runs: 69 keys in 40 rounds of kill
// -9). Each record now names the River job and its attempt, so the log
// shows one job's first run, whose outcome was not committed, and its
// second. (Writing the records once would take an outbox: the outcome and
// its records committed together, then written to the log; not done.)
func TestARunWhoseOutcomeCommitFailedIsToldApartFromItsRerunInTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, queue.FileName)
	db, err := queue.Open(ctx, path, queue.Options{Synchronous: "NORMAL", BusyTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	sink := &lockingSink{path: path, held: make(chan struct{}), t: t}
	wk := New(Deps{DB: db, Audit: sink, Ledger: &fakeLedger{}, Env: "sandbox", MaxAttempts: 5,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	ws := river.NewWorkers()
	wk.Register(ws)
	client, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 1, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 5)})
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
		_ = db.Close()
	})
	const key = "github:1:dup-processed"
	res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
		Target: "acme/app", ContentType: "application/json",
		Payload: []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/app"}}`)})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))

	<-sink.held
	var d queue.Delivery
	require.Eventually(t, func() bool {
		ds, err := db.Load(ctx, []int64{res.ID})
		if err != nil || len(ds) == 0 {
			return false
		}
		d = ds[0]
		return d.State == queue.StateProcessed
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, d.ProcessedCount)

	var processed []audit.Record
	sink.mu.Lock()
	for _, r := range sink.recs {
		if r.IdempotencyKey == key && r.Status == audit.StatusProcessed {
			processed = append(processed, r)
		}
	}
	sink.mu.Unlock()
	require.Len(t, processed, 2, "the run whose commit failed, and the rerun")
	first, rerun := processed[0], processed[1]
	assert.Equal(t, first.Attempts, rerun.Attempts, "one attempt of the delivery")
	assert.Equal(t, first.Details["job"], rerun.Details["job"], "one job")
	assert.NotNil(t, first.Details["jobAttempts"])
	assert.NotEqual(t, first.Details["jobAttempts"], rerun.Details["jobAttempts"], "two runs of it, told apart")
	assert.NotEqual(t, first.Details["jobRunAt"], rerun.Details["jobRunAt"])
}
