package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A short secret set as NAME while NAME_FILE is set too (the variable is
// unreadable as a whole) is still refused by a command that does not read
// that variable itself: serve with a signing secret, the webhook commands
// with a credential (found in review of 6475b2f: such a value was neither
// refused nor masked).
//
// Not parallel: the commands read the process environment.
func TestAShortSecretAlsoSetAsAFileIsRefusedByEveryCommand(t *testing.T) {
	tests := []struct {
		name, variable, value string
		open                  func(stderr io.Writer) (func(), error)
	}{
		{"serve, a signing secret", "GITHUB_WEBHOOK_SECRET", "Q7z", func(stderr io.Writer) (func(), error) {
			app, err := openServe(context.Background(), stderr)
			if err != nil {
				return nil, err
			}
			return app.close, nil
		}},
		{"webhooks dead and replay, a credential", "GITHUB_TOKEN", "ab", func(stderr io.Writer) (func(), error) {
			app, err := openWebhookApp(context.Background(), stderr, false, false)
			if err != nil {
				return nil, err
			}
			return app.close, nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			file := filepath.Join(dir, "secret")
			require.NoError(t, os.WriteFile(file, []byte("a-long-file-secret-1234\n"), 0o600))
			t.Setenv(tc.variable, tc.value)
			t.Setenv(tc.variable+"_FILE", file)

			var stderr bytes.Buffer
			closeApp, err := tc.open(&stderr)
			if err == nil {
				closeApp()
			}
			require.Error(t, err, "started with a %d-byte %s it can neither mask nor check (%s_FILE also set)", len(tc.value), tc.variable, tc.variable)
			require.Contains(t, err.Error(), tc.variable)
		})
	}
}
