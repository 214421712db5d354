//go:build linux

package startpages

import (
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwnReadOnlyPicksTheReadOnlyPrivateMappingsOfTheFileHoldingTheCode(t *testing.T) {
	t.Parallel()
	mapping := func(header, anonymous string) string {
		return header + "\nSize:  8 kB\nRss:  4 kB\nAnonymous:  " + anonymous + "\nVmFlags: rd mr mw me sd\n"
	}
	maps := strings.Join([]string{
		mapping("00400000-00b98000 r-xp 00000000 fe:00 4242 /opt/saas mcp/bin/saas-mcp (deleted)", "0 kB"),
		mapping("00b98000-01418000 r--p 00798000 fe:00 4242 /opt/saas mcp/bin/saas-mcp (deleted)", "0 kB"),
		// RELRO of a PIE: relocated by the loader, then made read-only.
		mapping("01418000-01420000 r--p 01018000 fe:00 4242 /opt/saas mcp/bin/saas-mcp (deleted)", "32 kB"),
		mapping("01420000-014a6000 rw-p 01020000 fe:00 4242 /opt/saas mcp/bin/saas-mcp (deleted)", "0 kB"),   // data: writable
		mapping("014a6000-034f1000 rw-p 00000000 00:00 0 ", "136 kB"),                                        // bss
		mapping("7f0000000000-7f0000100000 r--p 00000000 fe:00 777 /usr/lib/locale/C.utf8/LC_CTYPE", "0 kB"), // another file
		mapping("7f0000200000-7f0000300000 r--s 00000000 fe:00 4242 /opt/saas mcp/bin/saas-mcp", "0 kB"),     // shared: not ours to drop
		mapping("7f0000300000-7f0000400000 r--p 00000000 fe:01 4242 /elsewhere/same-inode-other-device", "0 kB"),
		"garbage line",
		mapping("7fff0000-7ffe0000 r--p 00000000 fe:00 4242 /reversed", "0 kB"),
	}, "")
	tests := []struct {
		name    string
		pc      uint64
		want    []addrRange
		wantErr string
	}{
		{"code in the text mapping", 0x00401000, []addrRange{{0x00400000, 0x00b98000}, {0x00b98000, 0x01418000}}, ""},
		{"pc in no mapping", 0x10, nil, "no file mapping"},
		{"pc in an anonymous mapping", 0x014a7000, nil, "no file mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ownReadOnly([]byte(maps), tc.pc)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// keep is code this test never runs, so the binary holds, like a real
// program, much more than what runs after the drop.
var keep = []any{http.ListenAndServeTLS, http.Get}

// sentinel lives in the binary's initialised data: a writable, private
// mapping of the executable. Dropping that mapping would silently put
// back the values the file holds.
var sentinel = [4]int64{1, 2, 3, 4}

// Not parallel: it measures this process's resident set around Release.
func TestReleaseDropsTheCodePagesAndKeepsWrittenData(t *testing.T) {
	require.NotEmpty(t, keep)
	sentinel[0] = 42
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	own, err := ownReadOnly(maps, uint64(reflect.ValueOf(Release).Pointer()))
	require.NoError(t, err)
	require.NotEmpty(t, own)

	touchAll(t, own) // all of it resident, as after a big program's start-up
	before := residentKiB(t, own)
	res, err := Release()
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	after := residentKiB(t, own)

	var size int64
	for _, r := range own {
		size += int64(r.hi - r.lo)
	}
	assert.Equal(t, size, res.Bytes)
	assert.Equal(t, [4]int64{42, 2, 3, 4}, sentinel, "written data must survive")
	// Reading smaps after the drop runs some code again (the runtime, os,
	// strconv), so part comes back at once; most must not.
	t.Logf("resident code and read-only data: %d KiB before, %d KiB after", before, after)
	assert.Less(t, after, before/2, "Release left most of the code resident")
}

// madvPopulateRead (Linux 5.14) maps every page of a range, as reading
// each would.
const madvPopulateRead = 22

// touchAll maps every page of the ranges into this process.
func touchAll(t *testing.T, ranges []addrRange) {
	t.Helper()
	for _, r := range ranges {
		require.NoError(t, madvise(r, madvPopulateRead))
	}
}

// residentKiB sums the Rss of the mappings starting at the ranges' starts.
func residentKiB(t *testing.T, ranges []addrRange) int {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	starts := map[uint64]bool{}
	for _, r := range ranges {
		starts[r.lo] = true
	}
	total, in := 0, false
	for line := range strings.Lines(string(smaps)) {
		if m, ok := parseMapping([]byte(line)); ok {
			in = starts[m.lo]
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); in && ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			require.NoError(t, err)
			total += n
		}
	}
	return total
}
