package config

import (
	"bytes"
	"testing"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/require"
)

// The help must list exactly what envconfig reads, as envconfig's own
// template-based usage would print it.
func TestUsageMatchesEnvconfig(t *testing.T) {
	t.Parallel()
	const table = `{{range .}}  {{usage_key . | printf "%-22s"}} {{usage_description .}}{{if usage_default .}} (default {{usage_default .}}){{end}}
{{end}}`
	for _, tt := range []struct {
		name string
		spec any
	}{
		{"serve", &Serve{}},
		{"webhook", &Webhook{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want, got bytes.Buffer
			require.NoError(t, envconfig.Usagef("", tt.spec, &want, table))
			require.NoError(t, Usage(&got, tt.spec))
			require.Equal(t, want.String(), got.String())
			require.NotEmpty(t, got.String())
		})
	}
}

func TestUsageRefusesNonStruct(t *testing.T) {
	t.Parallel()
	n := 3
	require.Error(t, Usage(&bytes.Buffer{}, &n))
}
