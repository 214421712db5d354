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
// connection for hold (past the worker's busy timeout; as a kill -9 of the
// worker, or a store that cannot commit, would leave the step): the
// outcome's commit fails after the record is written. With stop set, it
// also starts the drain deadline's StopAndCancel, as stopWorker does after
// 30 s, and gives it a moment to cancel the job.
type lockingSink struct {
	memSink
	path string
	hold time.Duration
	stop func()
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
			if s.stop != nil {
				go s.stop()
				time.Sleep(100 * time.Millisecond) // the job's context is cancelled by now
			}
			go func() {
				time.Sleep(s.hold)
				_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
				conn.Close()
				db.Close()
				close(s.held)
			}()
		})
	}
	return err
}

// twoRunsOfOneAttempt checks that key has two "processed" records, of one
// delivery attempt and one job, whose runs differ, and returns them.
func twoRunsOfOneAttempt(t *testing.T, sink *memSink, key string) (first, rerun audit.Record) {
	t.Helper()
	var processed []audit.Record
	for _, r := range sink.records(key) {
		if r.Status == audit.StatusProcessed {
			processed = append(processed, r)
		}
	}
	require.Len(t, processed, 2, "the run whose commit failed, and the rerun")
	first, rerun = processed[0], processed[1]
	assert.Equal(t, first.Attempts, rerun.Attempts, "one attempt of the delivery")
	assert.Equal(t, first.Details["job"], rerun.Details["job"], "one job")
	assert.NotNil(t, first.Details["jobRunAt"])
	assert.NotEqual(t, first.Details["jobRunAt"], rerun.Details["jobRunAt"],
		"the uncommitted run and its rerun must be told apart in the log: %v / %v", first.Details, rerun.Details)
	return first, rerun
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
	sink := &lockingSink{path: path, hold: 700 * time.Millisecond, held: make(chan struct{}), t: t}
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

	first, rerun := twoRunsOfOneAttempt(t, &sink.memSink, key)
	assert.NotEqual(t, first.Details["jobAttempts"], rerun.Details["jobAttempts"], "a failed attempt counts")
}

// TestAStoppedRunWhoseCommitFailedIsToldApartFromItsRerun: a run whose
// outcome commit fails after its records were written, at the drain
// deadline (StopAndCancel: the job's context cancelled, its handler already
// run), is taken by River for a soft stop: it gives the attempt back, so
// the rerun has the same job and jobAttempts (found in review). The run's
// start time (jobRunAt) tells them apart.
func TestAStoppedRunWhoseCommitFailedIsToldApartFromItsRerun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, queue.FileName)
	db, err := queue.Open(ctx, path, queue.Options{Synchronous: "NORMAL", BusyTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	sink := &lockingSink{path: path, hold: 400 * time.Millisecond, held: make(chan struct{}), t: t}
	newClient := func() *river.Client[*sql.Tx] {
		wk := New(Deps{DB: db, Audit: sink, Ledger: &fakeLedger{}, Env: "sandbox", MaxAttempts: 5,
			RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
		ws := river.NewWorkers()
		wk.Register(ws)
		c, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 1, FetchPollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		return c
	}
	first := newClient()
	stopped := make(chan struct{})
	sink.stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = first.StopAndCancel(sctx)
		close(stopped)
	}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(first, 5)})
	require.NoError(t, err)
	t.Cleanup(in.Close)
	const key = "github:1:stopped-commit-failed"
	res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
		Target: "acme/app", ContentType: "application/json",
		Payload: []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/app"}}`)})
	require.NoError(t, err)
	require.NoError(t, first.Start(ctx))
	<-sink.held
	<-stopped

	// The next start: release what a stopped process left running, run again.
	_, err = db.RescueOrphans(ctx, func(string) bool { return false }, nil)
	require.NoError(t, err)
	second := newClient()
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = second.Stop(sctx)
	})
	require.Eventually(t, func() bool {
		ds, err := db.Load(ctx, []int64{res.ID})
		return err == nil && len(ds) == 1 && ds[0].State == queue.StateProcessed
	}, 20*time.Second, 10*time.Millisecond)

	twoRunsOfOneAttempt(t, &sink.memSink, key)
}
