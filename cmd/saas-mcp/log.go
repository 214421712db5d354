package main

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

func getenv(k string) string { return os.Getenv(k) }

// newLogger returns a JSON logger on w whose string values are redacted.
func newLogger(w io.Writer, level string, red *redact.Redactor) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Value.Kind() {
			case slog.KindString:
				a.Value = slog.StringValue(red.String(a.Value.String()))
			case slog.KindAny:
				if err, ok := a.Value.Any().(error); ok {
					a.Value = slog.StringValue(red.Error(err))
				}
			}
			return a
		},
	}))
}

// slogStd adapts a slog.Logger for APIs that want a *log.Logger.
func slogStd(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelError)
}

// printErr prints a command's failure on stderr with every known token shape
// (and each value reds knows) removed: a start-up error can quote a value
// given in the wrong variable, a token set as a NAME_FILE path say.
func printErr(stderr io.Writer, cmd string, err error, reds ...*redact.Redactor) {
	msg := redact.New().Error(err)
	for _, r := range reds {
		msg = r.String(msg)
	}
	// Every secret variable set in the environment too, whatever the
	// caller had built by then: an error loading the configuration comes
	// before any redactor, and may quote any variable's value (a secret
	// pasted into LOG_LEVEL; found in review). NAME_FILE contents are not
	// read again here (see config.EnvRedactor).
	msg = config.EnvRedactor(getenv).String(msg)
	fmt.Fprintf(stderr, "saas-mcp %s: %s\n", cmd, msg)
}
