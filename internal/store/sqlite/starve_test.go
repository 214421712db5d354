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
	"github.com/saas-mcp/saas-mcp/internal/payments"
)

const (
	sharedHelperDB   = "SQLITE_SHARED_HELPER_DB"
	sharedHelperRole = "SQLITE_SHARED_HELPER_ROLE" // "worker-<n>" or "serve"
)

// TestSharedStateHelperProcess is not a test: it is one process of
// TestAClaimIsNotStarvedByAnotherProcessesLedgerWrites.
//
//   - worker-<n>: like `saas-mcp worker` draining a backlog of Stripe
//     payment deliveries, it records events in the payments ledger from 4
//     goroutines (WEBHOOK_WORKERS) until its stdin closes.
//   - serve: like `saas-mcp serve` taking an agent's calls one after the
//     other, it claims a new idempotency key after another for 6 s,
//     printing "claim error: ..." for the first claim that fails, then
//     "done".
func TestSharedStateHelperProcess(t *testing.T) {
	path, role := os.Getenv(sharedHelperDB), os.Getenv(sharedHelperRole)
	if path == "" {
		t.Skip("helper process")
	}
	ctx := context.Background()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	if role == "serve" {
		deadline := time.Now().Add(6 * time.Second) // it failed within 20 s three times out of three before the fix
		owner := idempotency.CallOwner(idempotency.OwnerID())
		var worst time.Duration
		n := 0
		for ; time.Now().Before(deadline); n++ {
			now := time.Now()
			c := idempotency.Claim{Key: fmt.Sprintf("key-%d", n), Tool: "createTicket", ArgsHash: "h", Target: "acme/app",
				Owner: owner, LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
			start := time.Now()
			_, _, err := db.Keys().Claim(ctx, c, now, idempotency.Alive)
			worst = max(worst, time.Since(start))
			if err != nil {
				fmt.Printf("claim error: call %d, after waiting %v for the write lock: %v\n", n, time.Since(start).Round(time.Millisecond), err)
				break
			}
		}
		fmt.Printf("claims %d, longest wait %v\n", n, worst)
		fmt.Println("done")
		_ = db.Close()
		os.Exit(0)
	}
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s_%d_%d", role, g, i)
				_, err := db.Payments().Record(ctx, payments.Event{ID: "evt_" + id, Type: "payment_intent.succeeded",
					ObjectID: "pi_" + id, Amount: 1999, Currency: "usd", Created: time.Now()})
				if err != nil {
					fmt.Printf("record error: %v\n", err)
				}
			}
		})
	}
	wg.Wait()
	_ = db.Close()
	os.Exit(0)
}

// TestAClaimIsNotStarvedByAnotherProcessesLedgerWrites: serve and the
// webhook workers share DATA_DIR/state.db (README: the payments ledger is
// shared with the Stripe webhook worker; several `saas-mcp worker` processes
// may run; a call is refused as "the idempotency store cannot be written"
// only when it cannot be). Under load (an agent's calls back to back, two
// workers draining Stripe payment deliveries), no process may fail with
// "database is locked". Without the writers' flock (procLock) they did:
// each process's writes queue in Go on its one write connection and take
// SQLite's write lock again microseconds after the previous commit, while a
// process that wants it waits in SQLite's busy handler, which sleeps and
// polls (up to 100 ms apart) and gives up after busy_timeout (5 s). The
// loser's claim failed (the agent told nothing was sent) or its ledger
// write failed (a failed attempt of the delivery, which counts toward
// WEBHOOK_MAX_ATTEMPTS and the dead letter).
//
// Every process is an ordinary build, as the saas-mcp binary is: under -race
// the transpiled SQLite runs several times slower, which hides the
// starvation, so the test builds its helper without it.
func TestAClaimIsNotStarvedByAnotherProcessesLedgerWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6 s load test of three processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(context.Background(), path, Options{}) // migrated before the helpers start
	require.NoError(t, err)
	require.NoError(t, db.Close())

	helper := filepath.Join(t.TempDir(), "helper.test")
	build := exec.Command("go", "test", "-c", "-o", helper, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	b, err := build.CombinedOutput()
	require.NoError(t, err, "build the helper: %s", b)

	start := func(role string) (*bufio.Scanner, io.WriteCloser) {
		cmd := exec.Command(helper, "-test.run=^TestSharedStateHelperProcess$")
		cmd.Env = append(os.Environ(), sharedHelperDB+"="+path, sharedHelperRole+"="+role)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
		out := bufio.NewScanner(stdout)
		require.True(t, out.Scan())
		require.Equal(t, "ready", out.Text(), role)
		return out, stdin
	}
	var mu sync.Mutex
	var workerErrs []string
	var readers sync.WaitGroup
	var stdins []io.WriteCloser
	for w := range 2 {
		out, stdin := start(fmt.Sprint("worker-", w))
		stdins = append(stdins, stdin)
		readers.Go(func() {
			for out.Scan() { // the workers' own errors, if any
				mu.Lock()
				workerErrs = append(workerErrs, out.Text())
				mu.Unlock()
			}
		})
	}
	serve, _ := start("serve")
	var claimErr string
	for serve.Scan() && serve.Text() != "done" {
		t.Log("serve: " + serve.Text())
		if strings.HasPrefix(serve.Text(), "claim error: ") {
			claimErr = serve.Text()
		}
	}
	for _, in := range stdins {
		_ = in.Close() // the workers stop
	}
	readers.Wait()
	assert.Empty(t, claimErr, "serve's claims while the workers record payments")
	assert.Empty(t, workerErrs, "the workers' ledger writes while serve claims keys")
}
