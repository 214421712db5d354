package idempotency

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProc lays out the few /proc files Alive reads.
func fakeProc(t *testing.T, boot, ns string, stats map[int]string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sys", "kernel", "random"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "sys", "kernel", "random", "boot_id"), []byte(boot+"\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "self", "ns"), 0o755))
	require.NoError(t, os.Symlink("pid:["+ns+"]", filepath.Join(root, "self", "ns", "pid")))
	for pid, stat := range stats {
		dir := filepath.Join(root, fmt.Sprint(pid))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	}
	return root
}

// statLine is a /proc/<pid>/stat line with the given name, state and start.
func statLine(pid int, comm, state string, start int) string {
	f := []string{fmt.Sprint(pid), "(" + comm + ")", state}
	for i := 4; i <= 21; i++ {
		f = append(f, "0")
	}
	f = append(f, fmt.Sprint(start))
	for i := 23; i <= 52; i++ {
		f = append(f, "0")
	}
	return strings.Join(f, " ") + "\n"
}

func TestAliveJudgesOwnersOnThisHost(t *testing.T) {
	t.Parallel()
	const boot = "0123456789ab-cdef-0123-456789abcdef"
	root := fakeProc(t, boot, "4026531836", map[int]string{
		100: statLine(100, "saas-mcp", "S", 5000),
		200: statLine(200, "we) ird (name", "R", 7000),
		300: statLine(300, "saas-mcp", "Z", 9000),
		400: "garbage",
	})
	owner := func(host, boot, ns string, pid int, start string) string {
		return strings.Join([]string{host, boot, ns, fmt.Sprint(pid), start}, ":")
	}
	tests := []struct {
		name  string
		host  string
		owner string
		want  bool
	}{
		{"a running process with its start time is alive", "h1", owner("h1", "01234567", "4026531836", 100, "5000"), true},
		{"a per-call suffix is ignored", "h1", owner("h1", "01234567", "4026531836", 100, "5000") + "/call-1", true},
		{"a name with spaces and parentheses is parsed", "h1", owner("h1", "01234567", "4026531836", 200, "7000"), true},
		{"a pid with no process is dead", "h1", owner("h1", "01234567", "4026531836", 101, "5000"), false},
		{"a reused pid is dead", "h1", owner("h1", "01234567", "4026531836", 100, "4999"), false},
		{"a zombie is dead", "h1", owner("h1", "01234567", "4026531836", 300, "9000"), false},
		{"an owner from before a reboot is dead", "h1", owner("h1", "fedcba98", "4026531836", 100, "5000"), false},
		{"an owner on another host is left to the lease", "h1", owner("h2", "01234567", "4026531836", 101, "5000"), true},
		{"an owner in another pid namespace is left to the lease", "h1", owner("h1", "01234567", "4026530000", 101, "5000"), true},
		{"an owner recorded without /proc is left to the lease", "h1", owner("h1", "01234567", "4026531836", 101, "r1b2c3"), true},
		{"an unreadable stat is left to the lease", "h1", owner("h1", "01234567", "4026531836", 400, "1"), true},
		{"an unknown host name is never judged", unknownHost, owner(unknownHost, "01234567", "4026531836", 101, "5000"), true},
		{"an owner that cannot be parsed is left to the lease", "h1", "someone", true},
		{"an owner with a bad pid is left to the lease", "h1", owner("h1", "01234567", "4026531836", -1, "5000"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, alive(root, tt.host, tt.owner), tt.owner)
		})
	}
}

func TestOwnerIDOfThisProcessIsAlive(t *testing.T) {
	t.Parallel()
	me := OwnerID()
	_, ok := parseOwner(me)
	require.True(t, ok, me)
	assert.True(t, Alive(me))
	call := CallOwner(me)
	assert.True(t, strings.HasPrefix(call, me+"/"))
	assert.NotEqual(t, call, CallOwner(me), "two calls must not share an owner")
	assert.True(t, Alive(call))
}

func TestOwnerIDWithoutProcIsRandomAndLeftToTheLease(t *testing.T) {
	t.Parallel()
	root := t.TempDir() // no /proc files at all
	a, b := ownerID(root, "h1", 42), ownerID(root, "h1", 42)
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, "h1:-:-:42:r"), a)
	assert.True(t, alive(root, "h1", a))
}

// TestHelperProcess is not a test: it is the child process that
// TestAliveSeesAChildExit starts, and it waits until its stdin closes.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("IDEMPOTENCY_HELPER_PROCESS") != "1" {
		t.Skip("helper process for TestAliveSeesAChildExit")
	}
	_, _ = os.Stdin.Read(make([]byte, 1))
	os.Exit(0)
}

func TestAliveSeesAChildExit(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "IDEMPOTENCY_HELPER_PROCESS=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	owner := ownerID(procRoot, hostname(), cmd.Process.Pid)
	assert.True(t, Alive(owner), "running child %s", owner)

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	assert.False(t, Alive(owner), "exited child %s", owner)
}
