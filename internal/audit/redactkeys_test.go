package audit

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Redaction masks details' keys as well as their values, and two keys that
// differ only in a secret become one: the record must still hold every
// value, under names that do not depend on the map's order (writeAudit shows
// the agent the record redacted a second time, which must match the log).
func TestRedactingDetailsKeysKeepsEveryValue(t *testing.T) {
	t.Parallel()
	const (
		tokenA = "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		tokenB = "ghp_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		tokenC = "ghp_cccccccccccccccccccccccccccccccccccc"
		mask   = redact.Mask
	)
	tests := []struct {
		name    string
		details map[string]any
		want    map[string]any
	}{
		{
			name:    "keys that do not collide keep their redacted names",
			details: map[string]any{tokenA: "first", "plain": "x"},
			want:    map[string]any{mask: "first", "plain": "x"},
		},
		{
			name:    "two secret keys are suffixed in sorted order",
			details: map[string]any{tokenB: "second", tokenA: "first"},
			want:    map[string]any{mask: "first", mask + "#2": "second"},
		},
		{
			name:    "a key already named as the mask keeps its name",
			details: map[string]any{mask: "literal", tokenA: "first", mask + "#2": "literal2", tokenB: "second"},
			want:    map[string]any{mask: "literal", mask + "#2": "literal2", mask + "#3": "first", mask + "#4": "second"},
		},
		{
			name:    "keys that collide in part keep their values",
			details: map[string]any{"token=" + tokenC: 3, "token=" + tokenA: 1},
			want:    map[string]any{"token=" + mask: 1, "token=" + mask + "#2": 3},
		},
		{
			name:    "keys of a nested map are kept too",
			details: map[string]any{"auth": map[string]any{tokenA: "first", tokenB: tokenC}},
			want:    map[string]any{"auth": map[string]any{mask: "first", mask + "#2": mask}},
		},
	}
	red := redact.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 20 { // map order varies from one run to the next
				assert.Equal(t, tt.want, Redact(red, Record{Details: tt.details}).Details)
			}
		})
	}
}
