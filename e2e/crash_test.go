package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// TestSIGKILLMidCallThenRestartReturnsTheSingleEffect kills the real binary
// with SIGKILL while GitHub holds the created issue's answer, shows the key
// in doubt with `saas-mcp doctor`, restarts the server on the same data
// directory and repeats the call: the one issue comes back, replayed.
func TestSIGKILLMidCallThenRestartReturnsTheSingleEffect(t *testing.T) {
	t.Parallel()
	// A long timeout, so the kill, not the timeout, ends the call.
	h := start(t, fastEnv(map[string]string{"HTTP_TIMEOUT": "30s"}))
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenHang})
	args := createTicketTool.args("crash")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := try(ctx, h.session, createTicketTool.name, args)
		done <- err
	}()
	waitFor(t, 10*time.Second, "the issue at GitHub", func() bool { return len(h.fake.GitHubIssues("acme/crash")) == 1 })
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, <-done, "the call died with the server")
	h.stop()

	listed := doctorInDoubt(t, h)
	require.Len(t, listed, 1, "doctor lists the key the dead process held")
	assert.Equal(t, "key-crash", listed[0]["key"])
	assert.Equal(t, "createTicket", listed[0]["tool"])
	assert.Equal(t, "acme/crash", listed[0]["target"])
	assert.Contains(t, doctorText(t, h), "key-crash")

	h.restart(nil)
	out := structured(t, h.call(createTicketTool.name, args))
	issues := h.fake.GitHubIssues("acme/crash")
	require.Len(t, issues, 1, "the repeat did not open a second issue")
	assert.Equal(t, true, out["replayed"])
	assert.EqualValues(t, issues[0].Number, out["number"])
	assert.Empty(t, doctorInDoubt(t, h), "the key is settled")
	checkTrail(t, h.records(), "key-crash")
}

// TestAnotherProcessTakesOverTheKeyOfAKilledOne runs two servers on one
// data directory; the first is killed after GitHub answered but before it
// stored the result. The second, still running, gets the same call: it sees
// the claim's owner is gone, finds the issue and returns it.
func TestAnotherProcessTakesOverTheKeyOfAKilledOne(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(map[string]string{"SAAS_MCP_FAILPOINT": "after_response"}))
	vars := maps.Clone(h.vars)
	vars["SAAS_MCP_FAILPOINT"] = ""
	other, _ := h.dial(vars)
	args := createTicketTool.args("takeover")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := try(ctx, h.session, createTicketTool.name, args)
	require.Error(t, err, "the first server died mid-call")
	h.stop()

	out := structured(t, callOn(t, other, createTicketTool.name, args))
	issues := h.fake.GitHubIssues("acme/takeover")
	require.Len(t, issues, 1)
	assert.Equal(t, true, out["replayed"])
	assert.EqualValues(t, issues[0].Number, out["number"])
	checkTrail(t, h.records(), "key-takeover")
}

// doctorInDoubt runs `saas-mcp doctor --json` on the harness's files and
// returns the keys it lists in doubt.
func doctorInDoubt(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	cmd := h.doctor("--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "doctor: %s", stderr.String())
	var keys []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var k map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &k), "doctor --json line: %q", sc.Text())
		keys = append(keys, k)
	}
	return keys
}

// doctorText runs `saas-mcp doctor` on the harness's files.
func doctorText(t *testing.T, h *harness) string {
	t.Helper()
	cmd := h.doctor()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "doctor: %s", out)
	return string(out)
}

// doctor is `saas-mcp doctor` on the harness's data directory and audit log.
func (h *harness) doctor(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"doctor"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir,
		"DATA_DIR=" + h.vars["DATA_DIR"], "AUDIT_LOG_PATH=" + h.vars["AUDIT_LOG_PATH"]}
	return cmd
}
