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

// A sender may half-close its connection after a complete request
// (shutdown(SHUT_WR), as some HTTP/1.x clients and proxies do) and still
// read the answer. net/http ends the request's context on that EOF while
// the delivery is still being stored. The answer must follow what
// became of the delivery, not that context: 202 when it was stored, and
// never a 2xx when it was not (had the handler given up and written
// nothing, net/http would answer "200 OK", and the provider would never
// redeliver).
func TestAHalfClosingSenderIsAnsweredWhatBecameOfItsDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		storeErr   error
		wantStatus int
		wantStored bool
	}{
		{name: "a delivery that is stored gets 202", wantStatus: http.StatusAccepted, wantStored: true},
		{name: "a delivery that is not gets 503", storeErr: errors.New("database is locked"),
			wantStatus: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
			require.NoError(t, err)
			in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{
				Jobs:     func(context.Context, *sql.Tx, []int64) error { return nil },
				Receipts: ReceiptAuditor(&memSink{}),
			})
			require.NoError(t, err)
			held := &heldStore{in: in, err: tt.storeErr, entered: make(chan struct{}), release: make(chan struct{})}
			entered, release := held.entered, held.release
			h := NewHandler(Options{Store: held, Audit: &memSink{}, Secrets: Secrets{GitHub: secrets("gh-secret")}})
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
				"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				githubSig([]byte(body), "gh-secret"), len(body), body)
			require.NoError(t, err)
			<-entered
			require.NoError(t, conn.(*net.TCPConn).CloseWrite())
			time.Sleep(50 * time.Millisecond) // the server sees the FIN while the batch is held
			close(release)

			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, rerr, "the half-closed sender still reads its answer")
			require.Eventually(t, in.Settled, 5*time.Second, time.Millisecond)
			_, ferr := db.Find(ctx, "github:42:guid-half")
			if tt.wantStored {
				require.NoError(t, ferr, "the delivery was stored")
			} else {
				require.ErrorIs(t, ferr, queue.ErrNotFound, "the delivery was not stored")
			}
			assert.Equal(t, tt.wantStatus, resp.StatusCode, resp.Status)
		})
	}
}

// heldStore holds each delivery until release is closed, then stores it,
// or refuses it with err.
type heldStore struct {
	in               *queue.Intake
	err              error
	entered, release chan struct{}
}

func (s *heldStore) Accept(ctx context.Context, d queue.NewDelivery) error {
	close(s.entered)
	<-s.release
	if s.err != nil {
		return s.err
	}
	return s.in.Accept(ctx, d)
}
