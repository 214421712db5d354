package webhook

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// syncCountingSink is a memSink that can also append without waiting for
// the disk, and counts the appends that wait.
type syncCountingSink struct {
	memSink
	synced atomic.Int64
}

func (s *syncCountingSink) Write(ctx context.Context, r audit.Record) error {
	s.synced.Add(1)
	return s.memSink.Write(ctx, r)
}

func (s *syncCountingSink) WriteDeferred(ctx context.Context, r audit.Record) error {
	return s.memSink.Write(ctx, r)
}

// A request refused before anything was stored (401, 413, 400) is audited
// without waiting for the disk: senders who need no secret must not make
// the receiver fsync once per request (review observation). The record is
// still written.
func TestARefusedRequestsRecordDoesNotWaitForTheDisk(t *testing.T) {
	t.Parallel()
	sink := &syncCountingSink{}
	b := setup(t, func(o *Options) { o.Audit = sink })
	tests := []struct {
		name string
		req  func() *http.Request
		code int
	}{
		{"a bad signature", func() *http.Request { return githubRequest(t, b.url, "guid-bad", []byte(`{}`), "wrong-secret") }, http.StatusUnauthorized},
		{"a verified but malformed delivery", func() *http.Request { return githubRequest(t, b.url, "a:b", []byte(`{}`), "gh-secret") }, http.StatusBadRequest},
	}
	for _, tc := range tests {
		code, _ := do(t, tc.req())
		require.Equal(t, tc.code, code, tc.name)
	}
	assert.Len(t, sink.byStatus(audit.StatusRejected), len(tests), "every refusal is audited")
	assert.Zero(t, sink.synced.Load(), "a refusal waited for the audit log's fsync")
}
