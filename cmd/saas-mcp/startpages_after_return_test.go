package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeWritesNothingAfterItReturns: nothing of serve's outlives
// runServe to write to the stderr it was given. Found in review: the
// start-up pages' release, in a goroutine waiting for the schemas' compile,
// logged after runServe had returned and its store was closed, racing with
// a caller that reads or reuses the writer (every in-process test of
// serve). Not parallel: run reads the environment.
func TestServeWritesNothingAfterItReturns(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("LOG_LEVEL", "debug")
	in := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"review","version":"1"}}}` + "\n"
	var out, errb syncBuffer
	code := run(context.Background(), []string{"serve"}, strings.NewReader(in), &out, &errb)
	require.Equal(t, 0, code, "stderr: %s", errb.String())
	require.Contains(t, out.String(), `"id":1`, "initialize was answered")
	atReturn := errb.String()
	time.Sleep(300 * time.Millisecond)
	after := errb.String()
	assert.Equal(t, atReturn, after, "serve wrote to its stderr after run returned: %q", strings.TrimPrefix(after, atReturn))
}
