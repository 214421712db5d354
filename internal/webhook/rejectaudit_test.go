package webhook

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestARejectedDeliveryIsAuditedEvenIfTheSenderHalfCloses: every refusal
// is audited with its reason. net/http ends a request's context when its
// sender half-closes (or closes) right after the request, while the handler
// may still be hashing the body; the rejected record is written all the
// same, so someone probing signatures leaves a trace.
func TestARejectedDeliveryIsAuditedEvenIfTheSenderHalfCloses(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := audit.Open(logPath, audit.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	h := NewHandler(Options{Audit: w, Secrets: Secrets{GitHub: secrets("gh-secret")}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	body := `{"pad":"` + strings.Repeat("x", 20<<20) + `"}` // hashing 20 MiB takes a few ms
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: issues\r\nX-GitHub-Delivery: guid-probe\r\nX-GitHub-Hook-ID: 42\r\n"+
		"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n%s", githubSig([]byte(body), "wrong"), len(body), body)
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var resp bytes.Buffer
	_, _ = resp.ReadFrom(conn)
	require.Contains(t, resp.String(), fmt.Sprint(http.StatusUnauthorized), "the bad signature is refused")

	require.NoError(t, w.Flush(t.Context()))
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"status":"rejected"`, "a 401 left no rejected audit record; the log holds:\n%s", b)
}
