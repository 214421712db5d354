//go:build linux

package startpages

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A private copy that has been swapped out is counted under "Swap:", no
// longer under "Anonymous:", yet MADV_DONTNEED would throw it away (the
// swap entry with it), and the next read would map the file's unrelocated
// bytes: the PIE RELRO crash, back on a host with swap under memory
// pressure (found in review). Such a mapping is kept.
func TestAReadOnlyMappingWhoseOwnPagesAreSwappedOutIsKept(t *testing.T) {
	t.Parallel()
	smaps := strings.Join([]string{
		"00400000-00b98000 r-xp 00000000 fe:00 4242 /bin/saas-mcp",
		"Size:  7776 kB", "Rss:  4000 kB", "Anonymous:  0 kB", "Swap:  0 kB", "VmFlags: rd ex mr mw me dw sd",
		// RELRO of a PIE: relocated by the loader, made read-only, then swapped out.
		"00b98000-00ba0000 r--p 00798000 fe:00 4242 /bin/saas-mcp",
		"Size:  32 kB", "Rss:  0 kB", "Anonymous:  0 kB", "Swap:  32 kB", "SwapPss:  32 kB", "VmFlags: rd mr mw me dw ac sd",
		"",
	}, "\n")
	got, err := ownReadOnly([]byte(smaps), 0x00400000+0x1000)
	require.NoError(t, err)
	assert.NotContains(t, got, addrRange{0x00b98000, 0x00ba0000},
		"a mapping whose own (relocated) pages are in swap is dropped, and the file's bytes come back in their place")
}
