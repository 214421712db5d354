package mcpserver

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// io.Reader allows a Read to return the last bytes together with io.EOF
// (iotest.DataErrReader does so): the end is held all the same. Found in
// review: it was held only when it came alone (n == 0), so bufio.Reader,
// as mcp-go reads, kept the EOF and handed it on after the last line
// without any wait while a call ran.
func TestTheEndOfInputIsHeldWhenItComesWithTheLastBytes(t *testing.T) {
	t.Parallel()
	var f InFlight
	f.n.Add(1) // a call running
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br := bufio.NewReader(f.HoldEOF(ctx, iotest.DataErrReader(strings.NewReader("line\n"))))
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "line\n", line)
	eof := make(chan error, 1)
	go func() { _, err := br.ReadString('\n'); eof <- err }()
	select {
	case <-eof:
		t.Fatal("the end of input was passed on while a call ran")
	case <-time.After(100 * time.Millisecond):
	}
	f.n.Add(-1)
	select {
	case err := <-eof:
		assert.ErrorIs(t, err, io.EOF)
	case <-time.After(5 * time.Second):
		t.Fatal("the end of input never came")
	}
}
