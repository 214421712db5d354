package webhook

import (
	"bufio"
	"context"
	"database/sql"
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

// A client that sends a complete request, half-closes its write side and
// reads the answer (legal HTTP/1.1) gets 202 when its delivery is stored:
// net/http ends the request's context on that EOF, and the handler must not
// let that abandon the delivery's commit (the other half-close test shows a
// 503 when the commit fails).
func TestAHalfClosingSenderWhoseDeliveryIsStoredGets202(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{
		Jobs: func(context.Context, *sql.Tx, []int64) error {
			close(entered)
			<-release // the commit goes through: the delivery is stored
			return nil
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
		"X-GitHub-Event: issues\r\nX-GitHub-Delivery: guid-half-ok\r\nX-GitHub-Hook-ID: 42\r\n"+
		"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", githubSig([]byte(body), "gh-secret"), len(body), body)
	require.NoError(t, err)
	<-entered
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	time.Sleep(50 * time.Millisecond) // the server sees the FIN while the batch commits
	close(release)

	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, rerr)
	require.Eventually(t, func() bool { return !in.Busy() }, 5*time.Second, time.Millisecond)
	_, ferr := db.Find(ctx, "github:42:guid-half-ok")
	require.NoError(t, ferr, "the delivery was stored")
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "answer to a delivery that was stored: %s", resp.Status)
}
