package mcpserver

import (
	"bufio"
	"runtime"
	"strings"
	"testing"
)

// Refusing a line over MaxMessage allocates about the limit once (a 40 MiB
// line took 98 MB before). Found in review: readLine grew one slice
// fragment by fragment to 32 MiB (about five times that allocated, as a
// large slice grows by a quarter), and idOf decoded all of it, copying it
// twice more: 286 MiB for a 33 MiB line.
func TestRefusingALongLineAllocatesAboutTheLimit(t *testing.T) {
	// Not parallel: TotalAlloc counts every goroutine's allocations, and
	// the parallel tests of long lines allocate as much again.
	head := `{"jsonrpc":"2.0","id":8,"method":"ping","params":{"_meta":{"pad":"`
	tail := `"}},"x":"` + strings.Repeat("y", 2<<20) + "\"}\n"
	line := head + strings.Repeat("x", MaxMessage-len(head)-(1<<20)) + tail // 33 MiB
	s := &Stdio{r: bufio.NewReaderSize(strings.NewReader(line), 4096)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	prefix, size, err := s.readLine()
	id := idOf(prefix)
	runtime.ReadMemStats(&after)
	if err != nil || size <= MaxMessage || id != int64(8) {
		t.Fatalf("size %d err %v id %v", size, err, id)
	}
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("kept prefix: len %d MiB, cap %d MiB; allocated while refusing: %d MiB",
		len(prefix)>>20, cap(prefix)>>20, got>>20)
	if got > 3*MaxMessage/2 {
		t.Errorf("refusing one %d-byte line allocated %d MiB, over 1.5 times the %d MiB limit", size, got>>20, MaxMessage>>20)
	}
}
