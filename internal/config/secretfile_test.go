package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestASecretFileIsReadAsTheOperatorMeantIt: NAME_FILE naming an empty (or
// blank) file is an error naming the variable, not a silent "no
// credential" that later tells the operator to set what is set (found in
// review); a BOM and surrounding whitespace are not part of the secret.
func TestASecretFileIsReadAsTheOperatorMeantIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want, err string
	}{
		{"empty", "", "", "GITHUB_TOKEN_FILE names is empty"},
		{"only a newline", "\r\n", "", "GITHUB_TOKEN_FILE names is empty"},
		{"a trailing newline", "ghp_abc\n", "ghp_abc", ""},
		{"CRLF", "ghp_abc\r\n", "ghp_abc", ""},
		{"a BOM", "\ufeffghp_abc\n", "ghp_abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "gh")
			require.NoError(t, os.WriteFile(f, []byte(tt.content), 0o600))
			env := map[string]string{"GITHUB_TOKEN_FILE": f}
			s, err := LoadSecrets(func(k string) string { return env[k] }, GitHubToken)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			got, ok := s.Get(GitHubToken)
			require.True(t, ok)
			assert.Equal(t, tt.want, got.Reveal())
		})
	}
}
