package mcpserver

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cancelOf(requestID string) string {
	return `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + requestID + `,"reason":"stop"}}`
}

// TestWatchNotesEveryCancellationAndPassesTheInputThrough: the watch sees
// each notifications/cancelled line however the reads cut it, notes its
// request id in canonical form, leaves every other line alone (a tool call
// that merely mentions the method, a request with that method, a line too
// long to be a cancellation), and the bytes read are the bytes sent.
func TestWatchNotesEveryCancellationAndPassesTheInputThrough(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxCancelLine)
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string // canonical ids noted
	}{
		{"a cancellation with a string id is noted", []string{cancelOf(`"a"`)}, []string{`"a"`}},
		{"a cancellation with a number id is noted", []string{cancelOf(`7`)}, []string{`7`}},
		{"a number id written another way is the same id", []string{cancelOf(`7.0`), cancelOf(`1e1`)}, []string{`7`, `10`}},
		{"cancellations among other lines are all noted", []string{
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}`,
			cancelOf(`1`),
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","arguments":{}}}`,
			cancelOf(`"2"`),
		}, []string{`1`, `"2"`}},
		{"a tool call that mentions the method is not a cancellation", []string{
			`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"text":"notifications/cancelled","requestId":3}}}`,
		}, nil},
		{"a request with the method is not a cancellation", []string{
			`{"jsonrpc":"2.0","id":9,"method":"notifications/cancelled","params":{"requestId":4}}`,
		}, nil},
		{"a message that is not JSON-RPC 2.0 is not a cancellation", []string{
			`{"jsonrpc":"1.0","method":"notifications/cancelled","params":{"requestId":5}}`,
		}, nil},
		{"a cancellation without a request id notes nothing", []string{
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}`,
		}, nil},
		{"a line longer than any cancellation is skipped, and the next is seen", []string{
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":6,"reason":"` + long + `"}}`,
			cancelOf(`8`),
		}, []string{`8`}},
	} {
		for _, rd := range []struct {
			how  string
			wrap func(io.Reader) io.Reader
		}{
			{"read whole", func(r io.Reader) io.Reader { return r }},
			{"read a byte at a time", iotest.OneByteReader},
			{"read in halves", iotest.HalfReader},
		} {
			t.Run(tc.name+", "+rd.how, func(t *testing.T) {
				t.Parallel()
				in := strings.Join(tc.lines, "\n") + "\n"
				c := NewCancellations()
				got, err := io.ReadAll(c.Watch(rd.wrap(strings.NewReader(in))))
				require.NoError(t, err)
				assert.Equal(t, in, string(got))
				assert.Equal(t, len(tc.want), c.pending())
				for _, id := range tc.want {
					assert.True(t, c.take(id), "id %s noted", id)
				}
			})
		}
	}
}

// The transport reads a last line the input ends without a newline as a
// line, so the watch notes a cancellation there too.
func TestALastCancellationWithoutItsNewlineIsNoted(t *testing.T) {
	t.Parallel()
	c := NewCancellations()
	_, err := io.Copy(io.Discard, c.Watch(strings.NewReader(`{"jsonrpc":"2.0","method":"ping"}`+"\n"+cancelOf(`11`))))
	require.NoError(t, err)
	assert.Equal(t, 1, c.pending())
	assert.True(t, c.take(`11`))
}

// TestNotedCancellationsStayBounded: cancellations of calls that finished,
// or never existed, are never taken; the registry keeps only the newest
// maxPendingCancels of them, so they cannot grow memory, and a new
// cancellation is always kept.
func TestNotedCancellationsStayBounded(t *testing.T) {
	t.Parallel()
	c := NewCancellations()
	var in strings.Builder
	const n = maxPendingCancels + 500
	for i := range n {
		in.WriteString(cancelOf(fmt.Sprint(i)) + "\n")
	}
	_, err := io.Copy(io.Discard, c.Watch(strings.NewReader(in.String())))
	require.NoError(t, err)
	assert.Equal(t, maxPendingCancels, c.pending())
	assert.False(t, c.take("0"), "the oldest is evicted")
	assert.True(t, c.take(fmt.Sprint(n-1)), "the newest is kept")
	assert.True(t, c.take(fmt.Sprint(n-maxPendingCancels)), "the oldest of the newest is kept")

	// One id noted again and again takes one place, not many.
	c = NewCancellations()
	for range 3 * maxPendingCancels {
		c.note(`"same"`)
	}
	c.note(`"other"`)
	assert.Equal(t, 2, c.pending())
	assert.True(t, c.take(`"same"`))
	assert.True(t, c.take(`"other"`))
}

// TestRequestIDsAreComparedInTheirJSONForm: the hook gets the call's id as
// mcp-go decoded it; a string id and a number id with the same digits are
// different requests.
func TestRequestIDsAreComparedInTheirJSONForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   any
		want string
		ok   bool
	}{
		{"a", `"a"`, true},
		{"7", `"7"`, true},
		{float64(7), `7`, true},
		{json.Number("7"), "", false},
		{nil, "", false},
		{map[string]any{}, "", false},
	} {
		got, ok := requestIDKey(tc.id)
		assert.Equal(t, tc.ok, ok, "%#v", tc.id)
		assert.Equal(t, tc.want, got, "%#v", tc.id)
	}
}
