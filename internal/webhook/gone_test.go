package webhook

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// stuckStore holds every Enqueue until the request's context ends.
type stuckStore struct{ entered chan struct{} }

func (s stuckStore) Enqueue(ctx context.Context, _ queue.NewDelivery) (queue.Enqueued, error) {
	close(s.entered)
	<-ctx.Done()
	return queue.Enqueued{}, ctx.Err()
}

// lockedBuffer is a bytes.Buffer safe for the handler's goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestASenderThatHangsUpIsLoggedAsGoneNotAsAStoreFailure(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	store := stuckStore{entered: make(chan struct{})}
	b := setup(t, func(o *Options) {
		o.Store = store
		o.Log = slog.New(slog.NewJSONHandler(logs, nil))
	})
	body := []byte(`{"action":"opened","issue":{"number":1}}`)
	ctx, cancel := context.WithCancel(context.Background())
	req := githubRequest(t, b.url, "guid-gone", body, "gh-secret").WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-store.entered
	cancel()
	require.Error(t, <-done)

	require.Eventually(t, func() bool { return logs.String() != "" }, 5*time.Second, 10*time.Millisecond)
	out := logs.String()
	assert.Contains(t, out, `"level":"INFO"`)
	assert.Contains(t, out, "sender went away")
	assert.NotContains(t, out, "could not store")
}
