package chain

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/schemas"
)

// mcpserver hands the chain numbers as json.Number, to keep them exact: the
// validator must judge them as the numbers they are.
func TestValidateJudgesExactNumbersAsNumbers(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{}
	for _, n := range []string{"sendMessage", "createTicket", "recordPaymentEvent", "writeAudit"} {
		in, err := schemas.Input(n)
		require.NoError(t, err)
		inputs[n] = in
	}
	v, err := NewValidator(inputs)
	require.NoError(t, err)
	tests := []struct {
		name    string
		tool    string
		args    string
		problem string // "" when valid
	}{
		{"an integer past 2^53 in writeAudit's details is valid", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"id":9007199254740993,"f":[1.5,1.0e2]}}`, ""},
		{"a number for createTicket's title is refused as a number", "createTicket",
			`{"repo":"a/b","title":12345678901234567890}`, "title: got number, want string"},
		{"a number among createTicket's labels is refused", "createTicket",
			`{"repo":"a/b","title":"t","labels":["bug",7]}`, "labels[1]: got number, want string"},
		{"a number for sendMessage's threadTs is refused", "sendMessage",
			`{"channel":"C1","text":"hi","threadTs":1712345678.000100}`, "threadTs: got number, want string"},
		{"a number for recordPaymentEvent's eventId is refused", "recordPaymentEvent",
			`{"eventId":1}`, "eventId: got number, want string"},
		{"a number for writeAudit's status is refused", "writeAudit",
			`{"provider":"p","action":"a","target":"t","status":0}`, "status: got number, want string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dec := json.NewDecoder(bytes.NewReader([]byte(tt.args)))
			dec.UseNumber()
			var args map[string]any
			require.NoError(t, dec.Decode(&args))
			err := v.Check(tt.tool, args)
			if tt.problem == "" {
				assert.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindInvalid, e.Kind)
			assert.Contains(t, e.Message, tt.problem)
		})
	}
}
