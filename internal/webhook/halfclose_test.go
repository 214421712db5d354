package webhook

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// A sender that half-closes its connection after the request (shutdown(SHUT_WR),
// as some HTTP/1.x clients and proxies do) still reads the answer. Go's
// server cancels the request's context on that EOF while the batch is still
// being written; had the handler given up and written nothing, net/http
// would answer "200 OK". Here the batch then fails (its commit errors), so
// nothing is stored: the answer must not be a 2xx, or the provider would
// never redeliver.
func TestASenderThatHalfClosesIsNotToldA2xxForAnUnstoredDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{
		Jobs: func(context.Context, *sql.Tx, []int64) error {
			close(entered)
			<-release
			return errors.New("database is locked")
		},
		Receipts: ReceiptAuditor(&memSink{}),
	})
	require.NoError(t, err)
	h := NewHandler(Options{Store: in, Audit: &memSink{}, Secrets: Secrets{GitHub: secrets("gh-secret")}})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		in.Close()
		_ = db.Close()
	})

	body := `{"action":"opened","issue":{"number":1}}`
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: issues\r\nX-GitHub-Delivery: guid-half\r\nX-GitHub-Hook-ID: 42\r\n"+
		"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n%s", githubSig([]byte(body), "gh-secret"), len(body), body)
	require.NoError(t, err)
	<-entered
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())

	// The handler waits for the batch whatever the sender's side says; the
	// batch is then refused.
	close(release)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
	// Wait for the batch to be refused, then look for the delivery.
	require.Eventually(t, func() bool { return !in.Busy() }, 5*time.Second, time.Millisecond)
	_, ferr := db.Find(ctx, "github:42:guid-half")
	require.ErrorIs(t, ferr, queue.ErrNotFound, "the delivery was not stored")
	require.NoError(t, rerr, "the half-closed sender still reads its answer")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "answer to a delivery that was not stored: %s", resp.Status)
}
