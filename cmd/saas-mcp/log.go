package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
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
			// Keys and values of every kind, not only strings and errors:
			// no call site logs a secret in a map, a slice or a key today,
			// but nothing would stop the next one (found in review).
			a.Key = red.String(a.Key)
			switch a.Value.Kind() {
			case slog.KindString:
				a.Value = slog.StringValue(red.String(a.Value.String()))
			case slog.KindAny:
				switch v := a.Value.Any().(type) {
				case error:
					a.Value = slog.StringValue(red.Error(v))
				default:
					// As the JSON handler would write it; a value that
					// needed masking is logged as its masked JSON text.
					// One JSON cannot encode is left to the handler, which
					// writes an error in its place, not the value (found
					// in review: fmt.Sprint printed it whole).
					if b, err := json.Marshal(v); err != nil {
						// Not the handler's "!ERROR:" text either: an
						// encoder's error may quote the value (found in
						// review).
						a.Value = slog.StringValue("!ERROR: a value that cannot be encoded as JSON")
					} else if m := red.String(string(b)); m != string(b) {
						a.Value = slog.StringValue(m)
					}
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

// echoArg is a command-line argument as a usage error may quote it: with
// every secret set in the environment and every token shape masked, then
// cut. An argument can be a credential put in the wrong place (an .mcp.json
// "args" entry of "${GITHUB_TOKEN}"), and MCP clients keep stderr in their
// logs (found in review: it was echoed raw).
func echoArg(arg string) string {
	return safetext.Cut(maskEnv(arg), 80)
}

// maskEnv masks the token shapes and every secret set in the environment.
func maskEnv(s string) string {
	return config.EnvRedactor(getenv).String(redact.New().String(s))
}

// redactingWriter masks secrets in what the flag package prints (an
// invalid value for a flag is quoted back), as echoArg does.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, maskEnv(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
