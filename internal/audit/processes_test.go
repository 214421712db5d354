package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const reviewChildEnv = "REVIEW_AUDIT_CHILD"

// TestChildProcess is not a test: it is the body of a writer process
// the tests below start.
func TestChildProcess(t *testing.T) {
	spec := os.Getenv(reviewChildEnv)
	if spec == "" {
		t.Skip("helper")
	}
	parts := strings.SplitN(spec, "|", 3)
	n, _ := strconv.Atoi(parts[1])
	w, err := Open(parts[2], Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	big := strings.Repeat("x", 3<<20)
	for i := range n {
		d := map[string]any{"i": i}
		if i%7 == 0 {
			d["big"] = big
		}
		if err := w.Write(context.Background(), Record{Actor: parts[0], Target: parts[0] + "-" + strconv.Itoa(i), Status: StatusSucceeded, Details: d}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	_ = w.Close()
	os.Exit(0)
}

func reviewChild(t *testing.T, name string, n int, path string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), reviewChildEnv+"="+name+"|"+strconv.Itoa(n)+"|"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if stderr.Len() > 0 {
			t.Logf("%s stderr: %s", name, stderr.String())
		}
	})
	return cmd
}

// Several processes append at once, large records among them, and one is
// killed (SIGKILL) while it writes: every line of the log is one valid JSON
// object, every record of a process that finished is there once, and the
// cut of the killed process's partial line (if any) is recorded.
func TestProcessesNeverInterleaveAndAKilledOneLeavesARepairableTail(t *testing.T) {
	if os.Getenv(reviewChildEnv) != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	const n = 60
	var cmds []*exec.Cmd
	for i := range 3 {
		cmds = append(cmds, reviewChild(t, "p"+strconv.Itoa(i), n, path))
	}
	victim := reviewChild(t, "victim", 100000, path)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, victim.Process.Signal(syscall.SIGKILL))
	_ = victim.Wait()
	var wg sync.WaitGroup
	for _, c := range cmds {
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, c.Wait()) }()
	}
	wg.Wait()
	// One more append, as a survivor would make.
	w, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.RecordRepair(context.Background()))
	require.NoError(t, w.Write(context.Background(), Record{Actor: "last", Status: StatusSucceeded}))
	require.NoError(t, w.Close())

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	seen := map[string]int{}
	for i, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var r Record
		if !assert.NoError(t, json.Unmarshal(l, &r), "line %d (%d bytes) is one JSON object: %.200q", i+1, len(l), l) {
			continue
		}
		seen[r.Target]++
	}
	for p := range 3 {
		for i := range n {
			tgt := "p" + strconv.Itoa(p) + "-" + strconv.Itoa(i)
			assert.Equal(t, 1, seen[tgt], tgt)
		}
	}
}
