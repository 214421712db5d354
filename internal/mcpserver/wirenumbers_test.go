package mcpserver

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTameArgumentsReplacesOnlyNumbersFloat64CannotHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, wantArgs string
		ok                   bool
	}{
		{"overflow", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":1e309}}}`, `{"n":0}`, true},
		{"nested and negative", `{"id":1,"params":{"arguments":{"a":[1,-1e400,{"b":2e999}],"c":3}}}`, `{"a":[1,0,{"b":0}],"c":3}`, true},
		{"underflow parses as 0 already", `{"id":1,"params":{"arguments":{"n":1e-999999}}}`, ``, false},
		{"the largest float64 is kept", `{"id":1,"params":{"arguments":{"n":1.7976931348623157e308}}}`, ``, false},
		{"outside the arguments is left alone", `{"id":1e999,"params":{"arguments":{"n":1}}}`, ``, false},
		{"no arguments", `{"id":1,"params":{}}`, ``, false},
		{"not JSON", `{"id":1,"params":`, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tamed, sent, ok := tameArguments([]byte(tt.line))
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			var m struct {
				Params struct {
					Arguments json.RawMessage `json:"arguments"`
				} `json:"params"`
			}
			require.NoError(t, json.Unmarshal(tamed, &m), "the tamed line is JSON float64 can decode")
			var anyv any
			require.NoError(t, json.Unmarshal(tamed, &anyv), "every number fits a float64")
			assert.JSONEq(t, tt.wantArgs, string(m.Params.Arguments))
			var orig struct {
				Params struct {
					Arguments json.RawMessage `json:"arguments"`
				} `json:"params"`
			}
			require.NoError(t, json.Unmarshal([]byte(tt.line), &orig))
			assert.Equal(t, string(orig.Params.Arguments), string(sent), "the arguments as sent, byte for byte")
		})
	}
}

// FuzzTameArguments: whatever a line holds, tameArguments does not panic,
// and when it tames a line, the result decodes with float64 numbers.
func FuzzTameArguments(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":1e309}}}`))
	f.Add([]byte(`{"params":{"arguments":[1e999,{"a":-1E+400}]}}`))
	f.Add([]byte(`{"params":{"arguments":"1e999"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		tamed, sent, ok := tameArguments(line)
		if !ok {
			return
		}
		var v any
		if err := json.Unmarshal(tamed, &v); err != nil {
			t.Fatalf("tamed line does not decode: %v: %q", err, tamed)
		}
		if !json.Valid(sent) {
			t.Fatalf("arguments as sent are not JSON: %q", sent)
		}
	})
}
