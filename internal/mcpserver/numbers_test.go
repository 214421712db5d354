package mcpserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// labelsOf builds a createTicket call whose labels are the given raw JSON
// values.
func labelsOf(vals []string) string {
	return `{"repo":"acme/app","title":"t","labels":[` + strings.Join(vals, ",") + `]}`
}

// callStatuses returns the statuses of the chain's records (those with a
// callId), in the order the log holds them.
func (s *stack) callStatuses(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(s.auditLog.Path())
	require.NoError(t, err)
	var out []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var r audit.Record
		require.NoError(t, dec.Decode(&r))
		if r.CallID != "" {
			out = append(out, r.Status)
		}
	}
	return out
}

// TestTinyNumbersInASetAreRefusedAsInvalidArguments: a number so small that
// float64 takes it for 0 (so mcp-go lets it through) but whose exponent
// math/big refuses, in a uniqueItems list of more than 20 elements, is
// refused as a bad argument naming the field and audited as rejected, not
// reported as a bug of saas-mcp that "may have taken effect" (and audited as
// failed).
func TestTinyNumbersInASetAreRefusedAsInvalidArguments(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	vals := make([]string, 21)
	for i := range vals {
		vals[i] = fmt.Sprintf(`%de-1000000000`, i+1)
	}
	text, isErr := s.call(t, "createTicket", labelsOf(vals))
	require.True(t, isErr, text)
	assert.NotContains(t, text, "internal error", "a bad argument was reported as a bug that may have acted")
	assert.Contains(t, text, "invalid arguments for createTicket: labels", text)
	assert.Contains(t, text, "labels[20]: number out of range: 21e-1000000000 is not 0 but rounds to 0", text)
	assert.Empty(t, s.gh.opened())
	statuses := s.callStatuses(t)
	require.NotEmpty(t, statuses)
	assert.Equal(t, audit.StatusRejected, statuses[len(statuses)-1])
}

// TestNumbersInASetCannotHoldAWorker: numbers JSON allows and float64
// rounds to 0 (1e-999999) each cost math/big tens of milliseconds in the
// validator's uniqueItems check; a labels list of a few hundred such numbers
// (a 4 KB call) would hold one of mcp-go's five workers for many seconds
// before the call is refused for its types. It is refused at once.
func TestNumbersInASetCannotHoldAWorker(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	vals := make([]string, 400)
	for i := range vals {
		vals[i] = fmt.Sprintf(`%de-999999`, i+1)
	}
	start := time.Now()
	text, isErr := s.call(t, "createTicket", labelsOf(vals))
	took := time.Since(start)
	require.True(t, isErr, text)
	assert.Less(t, took, 2*time.Second, "validating a %d-byte call took %s", len(labelsOf(vals)), took)
	assert.Contains(t, text, "invalid arguments for createTicket: labels", text)
	assert.Empty(t, s.gh.opened())
}
