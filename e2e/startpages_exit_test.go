package e2e

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeReleasesItsStartUpPagesBeforeExiting: a client that ends its
// input right after initialize's answer still finds the start-up pages
// released (and logged) before serve exits. Found in review: with the
// release in a goroutine of its own (waiting for the schemas' compile),
// serve could exit first, and TestStdoutCarriesOnlyJSONRPC failed about 2
// runs in 10.
func TestServeReleasesItsStartUpPagesBeforeExiting(t *testing.T) {
	t.Parallel()
	for i := 0; i < 20; i++ {
		dir := t.TempDir()
		cmd := exec.Command(binary, "serve")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AUDIT_LOG_PATH=" + filepath.Join(dir, "a.ndjson"),
			"DATA_DIR=" + filepath.Join(dir, "data"), "LOG_LEVEL=debug"}
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		_, err = io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`+"\n")
		require.NoError(t, err)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err)
		require.Contains(t, line, `"id":1`)
		require.NoError(t, stdin.Close())
		_, _ = io.Copy(io.Discard, stdout)
		require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
		assert.Contains(t, stderr.String(), `"msg":"released start-up pages"`, "run %d: serve exited without releasing its start-up pages", i)
	}
}
