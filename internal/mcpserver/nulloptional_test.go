package mcpserver

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Only a top-level, declared, optional field sent as null is dropped: a
// required one, an undeclared one (additionalProperties refuses it, naming
// it) and a null inside a value stay for the schema to judge; the caller's
// map is not modified.
func TestOnlyDeclaredOptionalFieldsSentAsNullAreDropped(t *testing.T) {
	t.Parallel()
	schema := json.RawMessage(`{"type":"object","properties":{"channel":{"type":"string"},"threadTs":{"type":"string"},"labels":{"type":"array"}},"required":["channel"]}`)
	optional := optionalFields(schema)
	assert.Equal(t, map[string]bool{"threadTs": true, "labels": true}, optional)
	for _, tc := range []struct {
		name      string
		args, out map[string]any
	}{
		{"an optional null", map[string]any{"channel": "C1", "threadTs": nil}, map[string]any{"channel": "C1"}},
		{"a required null", map[string]any{"channel": nil}, map[string]any{"channel": nil}},
		{"an undeclared null", map[string]any{"channel": "C1", "thread": nil}, map[string]any{"channel": "C1", "thread": nil}},
		{"a null inside a value", map[string]any{"channel": "C1", "labels": []any{nil}}, map[string]any{"channel": "C1", "labels": []any{nil}}},
		{"no null", map[string]any{"channel": "C1", "threadTs": "1.2"}, map[string]any{"channel": "C1", "threadTs": "1.2"}},
		{"no arguments", map[string]any{}, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := len(tc.args)
			assert.Equal(t, tc.out, dropNullOptionals(tc.args, optional))
			assert.Len(t, tc.args, before, "the caller's map is left as it was")
		})
	}
	assert.Empty(t, optionalFields(json.RawMessage(`not json`)), "an unreadable schema drops nothing")
}
