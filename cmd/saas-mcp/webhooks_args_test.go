package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// An unknown subcommand or a stray argument of the webhook commands is
// refused with exit 2 and noArgs' wording, as TestUnknownFlagsAreRefused
// requires of every command: a typo such as `webhooks deda` must not start
// the receiver (it would bind WEBHOOK_ADDR and, in a terminal, run until
// killed), and `webhooks dead 5` must not print every dead letter as if it
// had been filtered. Not parallel: the commands read their configuration
// from the environment.
func TestWebhookCommandsRefuseUnknownSubcommandsAndStrayArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the argument named as unknown
	}{
		{"a mistyped subcommand does not start the receiver", []string{"webhooks", "deda"}, "deda"},
		{"a subcommand after a flag does not start the receiver", []string{"webhooks", "--no-worker", "dead"}, "dead"},
		{"a stray argument after --no-worker does not start the receiver", []string{"webhooks", "--no-worker", "5"}, "5"},
		{"an id given to dead is not taken as a filter", []string{"webhooks", "dead", "5"}, "5"},
		{"a stray argument after dead --json is refused", []string{"webhooks", "dead", "--json", "extra"}, "extra"},
		{"a stray argument to worker does not start the worker", []string{"worker", "deda"}, "deda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			t.Setenv("WEBHOOK_ADDR", "127.0.0.1:0")
			// Should the receiver start after all, it stops here (SIGTERM's
			// stand-in) and the test fails on what it logged.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, tt.args, strings.NewReader(""), &stdout, &stderr)
			assert.Equal(t, 2, code, "stdout %q, stderr %q", stdout.String(), stderr.String())
			assert.Contains(t, stderr.String(), `unknown argument "`+tt.want+`"`)
			assert.NotContains(t, stderr.String(), "listening", "the receiver started")
			_, err := os.Stat(filepath.Join(dir, "data"))
			assert.True(t, os.IsNotExist(err), "nothing is opened")
		})
	}
}

// The receiver runs with one P more than the runtime chose, unless the
// GOMAXPROCS variable says how many, or there is a single core.
func TestTheReceiverAsksForOneProcMore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env   string
		procs int
		want  int
	}{
		{"", 2, 3},
		{"", 8, 9},
		{"", 1, 0},
		{"2", 2, 0},
		{"4", 4, 0},
	} {
		assert.Equal(t, tc.want, extraProcs(tc.env, tc.procs), "GOMAXPROCS=%q, runtime chose %d", tc.env, tc.procs)
	}
}

// The receiver raises GOMAXPROCS once per process however often it starts
// (found in review: each start in a process added one more P).
func TestTheReceiverRaisesGOMAXPROCSOnce(t *testing.T) {
	// Not parallel: it sets GOMAXPROCS.
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	if before < 2 {
		t.Skip("a single P is left alone")
	}
	var r procRaiser
	for range 3 {
		r.raise("")
	}
	assert.Equal(t, before+1, runtime.GOMAXPROCS(0))
	var set procRaiser
	set.raise("2")
	assert.Equal(t, before+1, runtime.GOMAXPROCS(0), "the GOMAXPROCS variable leaves it alone")
}
