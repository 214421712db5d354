package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

const (
	helperEnv       = "SQLITE_CLAIM_HELPER_DB"
	helperKeys      = 100
	helperGoroutine = 4
)

// TestClaimHelperProcess is not a test: it is one of the processes that
// TestTwoProcessesClaimEachKeyOnce starts. It opens the database, says
// "ready", waits for "go", claims every key from several goroutines, prints
// each outcome, says "done", and stays alive until its stdin closes, so the
// other process never finds it dead.
func TestClaimHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestTwoProcessesClaimEachKeyOnce")
	}
	ctx := context.Background()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if line, _ := in.ReadString('\n'); line != "go\n" {
		os.Exit(1)
	}
	process := idempotency.OwnerID()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for k := range helperKeys {
		key := fmt.Sprintf("key:%d", k)
		for range helperGoroutine {
			wg.Add(1)
			go func() {
				defer wg.Done()
				now := time.Now()
				c := idempotency.Claim{Key: key, Tool: "sendMessage", ArgsHash: "h", Owner: idempotency.CallOwner(process),
					LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
				_, out, err := db.Keys().Claim(ctx, c, now, idempotency.Alive)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fmt.Printf("claim: error %s %v\n", key, err)
					return
				}
				fmt.Printf("claim: %s %s\n", out, key)
			}()
		}
	}
	wg.Wait()
	fmt.Println("done")
	_, _ = io.Copy(io.Discard, in)
	_ = db.Close()
	os.Exit(0)
}

func TestTwoProcessesClaimEachKeyOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	children := make([]child, 2)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClaimHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		children[i] = child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	// Both have opened (and so migrated) the file before either claims.
	for _, c := range children {
		require.True(t, c.out.Scan(), "child did not start")
		require.Equal(t, "ready", c.out.Text())
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "go\n")
		require.NoError(t, err)
	}

	acquired := map[string]int{}
	outcomes := map[string]int{}
	for _, c := range children {
		for c.out.Scan() {
			line := c.out.Text()
			if line == "done" {
				break
			}
			f := strings.Fields(strings.TrimPrefix(line, "claim: "))
			require.Len(t, f, 2, "unexpected line %q", line)
			require.NotEqual(t, "error", f[0], line)
			outcomes[f[0]]++
			if f[0] == idempotency.Acquired.String() {
				acquired[f[1]]++
			}
		}
	}
	for _, c := range children {
		require.NoError(t, c.stdin.Close())
		require.NoError(t, c.cmd.Wait())
	}

	assert.Equal(t, map[string]int{
		idempotency.Acquired.String():   helperKeys,
		idempotency.InProgress.String(): helperKeys * (2*helperGoroutine - 1),
	}, outcomes)
	for k := range helperKeys {
		assert.Equal(t, 1, acquired[fmt.Sprintf("key:%d", k)], "key:%d", k)
	}
}
