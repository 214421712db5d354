//go:build linux

package startpages

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A page's permissions now say nothing about whether it was written before:
// the dynamic loader applies relocations to a PIE's (or an externally
// linked binary's) RELRO segment, then mprotects it read-only, so it shows
// as "r--p" of the executable although its content is private, dirty and no
// longer what the file holds. MADV_DONTNEED throws that away: the next read
// refaulted the file's unrelocated bytes (found in review). Release now
// keeps every mapping holding pages of the process's own (smaps Anonymous).

const pieChild = "SAAS_MCP_STARTPAGES_PIE_CHILD"

// In-process form of the bug: a private mapping of the executable, written,
// then made read-only (what ld.so does to PT_GNU_RELRO). Release drops it and
// the write is lost.
func TestReleaseKeepsWhatWasWrittenBeforeAMappingWasMadeReadOnly(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	f, err := os.Open(exe)
	require.NoError(t, err)
	defer f.Close()
	page := os.Getpagesize()
	b, err := syscall.Mmap(int(f.Fd()), 0, page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	require.NoError(t, err)
	defer syscall.Munmap(b)
	require.Equal(t, byte(0x7f), b[0], "an ELF file starts with 0x7f")
	b[0] = 'R' // a "relocation"
	require.NoError(t, syscall.Mprotect(b, syscall.PROT_READ))

	res, err := Release()
	require.NoError(t, err)
	require.Empty(t, res.Skipped)

	require.Equal(t, byte('R'), b[0], "Release discarded data written to a private mapping of the executable before it was made read-only (RELRO)")
}

// The real-world form: the same package built as a PIE (-buildmode=pie, as
// Arch, Fedora and Debian build Go programs): after Release, the first
// interface conversion reads an unrelocated itab/type pointer and the
// process dies with SIGSEGV.
func TestReleaseKeepsAPIEsRelocatedReadOnlyData(t *testing.T) {
	if os.Getenv(pieChild) != "" {
		if _, err := Release(); err != nil {
			fmt.Println("release:", err)
			os.Exit(3)
		}
		var err error = fs.ErrNotExist
		var pe *fs.PathError
		fmt.Printf("survived Release: %v %v\n", err, errors.As(err, &pe))
		return
	}
	if testing.Short() {
		t.Skip("builds this package as a PIE")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build a PIE")
	}
	bin := filepath.Join(t.TempDir(), "startpages-pie.test")
	build := exec.Command(goBin, "test", "-c", "-buildmode=pie", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the PIE: %s", out)

	child := exec.Command(bin, "-test.run=^TestReleaseKeepsAPIEsRelocatedReadOnlyData$", "-test.count=1")
	child.Env = append(os.Environ(), pieChild+"=1")
	out, err = child.CombinedOutput()
	first := strings.SplitN(string(out), "\n", 2)[0]
	require.NoError(t, err, "the PIE build of this package crashed after Release: %s", first)
	require.Contains(t, string(out), "survived Release")
}
