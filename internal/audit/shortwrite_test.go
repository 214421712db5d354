package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAWriteCutShortIsTakenBackSoTheLogStaysValidNDJSON: when an append is
// cut short (disk full; here RLIMIT_FSIZE, which makes write(2) return a
// short count and then EFBIG, as ENOSPC does), Write reports the error (the
// call is refused) and the part of the line it wrote is taken back, so the
// next record, once there is room again, does not land in the middle of a
// broken line.
//
// Not parallel: RLIMIT_FSIZE is per process. SIGXFSZ, which the kernel
// sends with EFBIG, is ignored by the Go runtime.
func TestAWriteCutShortIsTakenBackSoTheLogStaysValidNDJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Status: StatusStarted, Target: "first"}))
	st, err := os.Stat(path)
	require.NoError(t, err)

	big := Record{Actor: "a", Status: StatusStarted, Target: strings.Repeat("x", 500)}
	var werr error
	withFileSizeLimit(t, st.Size()+64, func() { werr = w.Write(ctx, big) }) // room for part of the next line only
	require.Error(t, werr, "the short write is reported")

	// Room again (space freed): the next call's record goes in.
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Status: StatusStarted, Target: "third"}))
	require.NoError(t, w.Close())

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var targets []string
	err = Read(f, func(r Record) error { targets = append(targets, r.Target); return nil })
	require.NoError(t, err, "the audit log must stay valid NDJSON after a failed append")
	require.Equal(t, []string{"first", "third"}, targets, "the refused record is not in the log")
}

// withFileSizeLimit runs f with files limited to limit bytes (RLIMIT_FSIZE,
// which makes write(2) return a short count and then EFBIG, as a full disk
// does ENOSPC), and restores the limit after. The limit is per process:
// tests using it do not run in parallel.
func withFileSizeLimit(t *testing.T, limit int64, f func()) {
	t.Helper()
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	lim := old
	lim.Cur = uint64(limit)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) }()
	f()
}
