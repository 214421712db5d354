package webhook

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// TestReadyzWhileStorageFails: the index transaction fails; the
// delivery is still taken (on disk), /readyz says 503 while it fails and
// 200 once it commits again, and a duplicate then enqueues nothing new.
func TestReadyzWhileStorageFails(t *testing.T) {
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	var fail atomic.Bool
	var jobs atomic.Int64
	sink := &memSink{}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(_ context.Context, _ *sql.Tx, ids []int64) error {
		if fail.Load() {
			return errors.New("disk I/O error")
		}
		jobs.Add(int64(len(ids)))
		return nil
	}, Receipts: ReceiptAuditor(sink)})
	require.NoError(t, err)
	h := NewHandler(Options{Store: in, Audit: sink, Secrets: Secrets{GitHub: secrets("gh-secret")},
		Ready: func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return err
			}
			return in.Healthy()
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); in.Close(); _ = db.Close() })
	ready := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/readyz", nil)
		code, _ := do(t, req)
		return code
	}
	require.Equal(t, 200, ready())
	fail.Store(true)
	code, _ := do(t, githubRequest(t, srv.URL, "rf1", []byte(`{}`), "gh-secret"))
	assert.Equal(t, http.StatusAccepted, code, "on disk: taken")
	require.Eventually(t, func() bool { return ready() == 503 }, 5*time.Second, 5*time.Millisecond, "/readyz while storage fails")
	fail.Store(false)
	require.Eventually(t, func() bool { return ready() == 200 }, 15*time.Second, 10*time.Millisecond, "/readyz after recovery")
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)
	code, _ = do(t, githubRequest(t, srv.URL, "rf1", []byte(`{}`), "gh-secret"))
	assert.Equal(t, http.StatusAccepted, code)
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), jobs.Load(), "one job, the duplicate enqueued nothing")
}
