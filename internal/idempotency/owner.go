package idempotency

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// An owner names the process holding a claim: "host:boot:ns:pid:start",
// where boot is the start of the kernel's boot id, ns the inode of the pid
// namespace and start the process start time in clock ticks since boot (field
// 22 of /proc/<pid>/stat). pid alone is not enough: pids are reused, and a
// reused pid has another start time; after a reboot even the start time may
// repeat, which the boot id rules out; and two containers with one host name
// and a shared database file see different processes under one pid, which
// the namespace rules out. Anything after the first "/" is a per-call suffix
// (see CallOwner) that Alive ignores.

// procRoot is where the process table lives; tests point it at a fake.
const procRoot = "/proc"

// OwnerID returns the identity of this process for claims. Where /proc is
// not readable the start time is replaced by a random id: Alive cannot check
// such an owner and leaves it to the lease.
func OwnerID() string {
	return ownerID(procRoot, hostname(), os.Getpid())
}

// CallOwner returns an owner for one call made by process: the process
// identity plus a random suffix. Two calls of one process then never pass for
// each other, so a call that lost its claim to a retry in the same process
// gets ErrNotOwner rather than overwriting the retry's result.
func CallOwner(process string) string {
	return process + "/" + uuid.NewString()
}

// Alive reports whether the process named by owner may still run. It answers
// false only when it knows: same host, and the process is gone, is a zombie,
// or its pid now belongs to a process started at another time, or the host
// has rebooted since. For an owner on another host, or one it cannot parse,
// it answers true, and the claim's lease decides.
func Alive(owner string) bool {
	return alive(procRoot, hostname(), owner)
}

func ownerID(root, host string, pid int) string {
	start, err := startTime(root, pid)
	if err != nil {
		start = "r" + uuid.NewString()
	}
	return host + ":" + bootID(root) + ":" + pidNamespace(root) + ":" + strconv.Itoa(pid) + ":" + start
}

func alive(root, host, owner string) bool {
	o, ok := parseOwner(owner)
	if !ok || o.host != host || host == unknownHost {
		return true
	}
	if boot := bootID(root); boot != "-" && o.boot != "-" && boot != o.boot {
		return false // the host rebooted: every process of the old boot is gone
	}
	if ns := pidNamespace(root); ns == "-" || ns != o.ns {
		return true // its pids are not ours to look up
	}
	if strings.HasPrefix(o.start, "r") {
		return true // recorded without /proc: nothing to compare
	}
	start, err := startTime(root, o.pid)
	switch {
	case errors.Is(err, errGone) || errors.Is(err, fs.ErrNotExist):
		return false
	case err != nil:
		return true
	}
	return start == o.start
}

// owner is a parsed owner id.
type owner struct {
	host, boot, ns, start string
	pid                   int
}

func parseOwner(s string) (owner, bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 5 {
		return owner{}, false
	}
	pid, err := strconv.Atoi(parts[3])
	if err != nil || pid <= 0 {
		return owner{}, false
	}
	return owner{host: parts[0], boot: parts[1], ns: parts[2], pid: pid, start: parts[4]}, true
}

// errGone marks a pid whose process has exited but is not yet reaped.
var errGone = errors.New("process has exited")

// startTime returns field 22 of /proc/<pid>/stat. The command name (field 2)
// is in parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func startTime(root string, pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return "", errors.New("malformed stat")
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", errGone
	}
	if _, err := strconv.ParseUint(f[19], 10, 64); err != nil {
		return "", errors.New("malformed stat")
	}
	return f[19], nil
}

// bootID returns the first 8 characters of the kernel's boot id, or "-".
func bootID(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "sys", "kernel", "random", "boot_id"))
	id := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if err != nil || len(id) < 8 {
		return "-"
	}
	return id[:8]
}

// pidNamespace returns the inode of this process's pid namespace, or "-".
func pidNamespace(root string) string {
	link, err := os.Readlink(filepath.Join(root, "self", "ns", "pid"))
	// The link reads "pid:[4026531836]".
	i, j := strings.IndexByte(link, '['), strings.IndexByte(link, ']')
	if err != nil || i < 0 || j <= i+1 {
		return "-"
	}
	return link[i+1 : j]
}

// unknownHost stands for a host name that could not be read. Alive never
// judges such an owner: two hosts could both be unknown.
const unknownHost = "unknown-host"

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return unknownHost
	}
	// ":" and "/" separate an owner's fields; no real host name has them.
	return strings.NewReplacer(":", "_", "/", "_").Replace(h)
}
