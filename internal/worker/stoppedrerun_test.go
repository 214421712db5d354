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

// stopLockSink: on the first "processed" record it holds webhooks.db's
// write lock from another connection (the outcome's commit will fail) and
// starts the drain deadline's StopAndCancel, as stopWorker does after 30 s.
type stopLockSink struct {
	memSink
	path string
	once sync.Once
	stop func()
	held chan struct{}
	t    *testing.T
}

func (s *stopLockSink) Write(ctx context.Context, r audit.Record) error {
	err := s.memSink.Write(ctx, r)
	if r.Status == audit.StatusProcessed {
		s.once.Do(func() {
			db, oerr := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(5000)")
			require.NoError(s.t, oerr)
			conn, cerr := db.Conn(context.Background())
			require.NoError(s.t, cerr)
			_, lerr := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
			require.NoError(s.t, lerr)
			go s.stop()
			time.Sleep(100 * time.Millisecond) // the job's context is cancelled by now
			go func() {
				time.Sleep(400 * time.Millisecond) // past the worker's busy timeout
				_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
				conn.Close()
				db.Close()
				close(s.held)
			}()
		})
	}
	return err
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
	sink := &stopLockSink{path: path, held: make(chan struct{}), t: t}
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
	_, err = db.RescueOrphans(ctx, func(string) bool { return false })
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

	var processed []audit.Record
	sink.mu.Lock()
	for _, r := range sink.recs {
		if r.IdempotencyKey == key && r.Status == audit.StatusProcessed {
			processed = append(processed, r)
		}
	}
	sink.mu.Unlock()
	require.Len(t, processed, 2, "the stopped run whose commit failed, and the rerun")
	a, b := processed[0], processed[1]
	assert.Equal(t, a.Attempts, b.Attempts, "one attempt of the delivery")
	assert.Equal(t, a.Details["job"], b.Details["job"], "one job")
	assert.NotNil(t, a.Details["jobRunAt"])
	assert.NotEqual(t, a.Details["jobRunAt"], b.Details["jobRunAt"],
		"the uncommitted run and its rerun must be told apart in the log: %v / %v", a.Details, b.Details)
}
