package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
	"golang.org/x/sys/unix"
)

const doctorHelp = `saas-mcp doctor: check the local state and list idempotency keys in doubt.

A key is in doubt when its provider call may have taken effect but no result
was stored (a timeout, a connection closed after sending, a crash). The next
call with that key looks for the effect at the provider before acting.

Flags:
  --json   print the in-doubt keys as JSON lines

Reads and checks the same variables as serve (see saas-mcp serve --help): a
value serve would refuse stops it too, with exit 1 and the reason, and so
does a secret too short to keep out of logs; a credential serve would
refuse (a file that cannot be read, a malformed SLACK_WEBHOOK_URL) or that
the sandbox/live rule refuses (INTEGRATION_ENV) is reported, the state is
shown all the same, and it exits 1. It
uses DATA_DIR, STORE_SYNC, AUDIT_LOG_PATH and AUDIT_SYNC, and redacts every
secret it prints. It opens state.db as serve does: an older state.db is
brought to this release's schema, as serve would at its next start.
`

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, doctorHelp)
		return 0
	}
	flags := flag.NewFlagSet("doctor", flag.ContinueOnError)
	flags.SetOutput(redactingWriter{stderr})
	flags.Usage = func() { fmt.Fprint(stderr, doctorHelp) }
	asJSONFlag := flags.Bool("json", false, "print the in-doubt keys as JSON lines")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if code, ok := noArgs("doctor", flags.Args(), stderr); !ok {
		return code
	}
	asJSON := *asJSONFlag
	cfg, err := config.LoadServe()
	if err != nil {
		printErr(stderr, "doctor", err)
		return 1
	}
	if short := config.ShortSecrets(getenv); len(short) > 0 {
		for _, err := range short {
			printErr(stderr, "doctor", err) // serve refuses to start on each
		}
		return 1
	}
	// The credentials as serve reads them: what stops serve stops doctor
	// (found in review: a malformed SLACK_WEBHOOK_URL or a missing
	// NAME_FILE passed), and a key the sandbox/live rule refuses, which
	// serve starts with but refuses at every call using it, is reported.
	// Reported, and doctor goes on to show the state: it exits 1 at the end.
	problems := 0
	if secrets, err := config.LoadSecrets(getenv, config.CredentialNames...); err != nil {
		printErr(stderr, "doctor", err)
		problems++
	} else {
		for _, name := range config.CredentialNames {
			if s, ok := secrets.Get(name); ok {
				if err := config.CheckCredential(cfg.Env, name, s); err != nil {
					printErr(stderr, "doctor", fmt.Errorf("%w (every call that needs it is refused)", err))
					problems++
				}
			}
		}
	}
	status := 0
	if problems > 0 {
		status = 1
	}
	if err := checkAuditLog(cfg.AuditLogPath, cfg.AuditSync == "always"); err != nil {
		printErr(stderr, "doctor", fmt.Errorf("AUDIT_LOG_PATH: %w", err))
		return 1
	}
	statePath := filepath.Join(cfg.DataDir, "state.db")
	if _, err := os.Stat(statePath); errors.Is(err, fs.ErrNotExist) {
		if asJSON {
			return status
		}
		fmt.Fprintf(stdout, "state:     %s does not exist yet (serve has not run with DATA_DIR=%s)\nin doubt:  none\n", statePath, cfg.DataDir)
		return status
	}
	db, err := sqlite.Open(ctx, statePath, sqlite.Options{Synchronous: strings.ToUpper(cfg.StoreSync)})
	if err != nil {
		printErr(stderr, "doctor", fmt.Errorf("open state: %w", err))
		return 1
	}
	defer db.Close()
	claims, err := db.Keys().InDoubt(ctx, time.Now(), idempotency.Alive)
	if err != nil {
		printErr(stderr, "doctor", fmt.Errorf("list in-doubt keys: %w", err))
		return 1
	}
	// A target is free text from the call's arguments (writeAudit's may
	// be anything): redacted like every other line saas-mcp prints.
	red := redactorOfReadable(stderr)
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, c := range claims {
			c.Result = nil
			c.Key = red.String(idempotency.CallerKey(c.Key)) // as the tool call and its audit records name it
			c.Target = red.String(c.Target)
			_ = enc.Encode(c)
		}
		return status
	}
	fmt.Fprintf(stdout, "state:     %s (ok)\n", filepath.Join(cfg.DataDir, "state.db"))
	fmt.Fprintf(stdout, "audit log: %s\n", cfg.AuditLogPath)
	if len(claims) == 0 {
		fmt.Fprintln(stdout, "in doubt:  none")
		return status
	}
	fmt.Fprintf(stdout, "in doubt:  %d key(s); the next call with each key reconciles with the provider first "+
		"(unless the key has expired: then it acts again)\n\n", len(claims))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTOOL\tTARGET\tSTATE\tCLAIMED")
	now := time.Now()
	for _, c := range claims {
		state := string(c.State)
		if c.Expired(now) {
			state += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(red.String(idempotency.CallerKey(c.Key))), c.Tool, cell(red.String(c.Target)), state, c.ClaimedAt.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
	return status
}

// checkAuditLog tells whether serve could append to the audit log at path,
// without touching it: an existing file must open for reading and
// appending (the writer reads the end of the file before each append); a
// missing one needs its nearest existing ancestor to be a writable
// directory. Under sync it must be a regular file, as serve refuses
// anything else then.
func checkAuditLog(path string, sync bool) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil && !st.Mode().IsRegular() && sync:
		return fmt.Errorf("%s is not a regular file (%s), so its records cannot be synced; "+
			"point AUDIT_LOG_PATH at a file, or set AUDIT_SYNC=never to write to it unsynced", path, st.Mode().Type())
	case err == nil && !st.Mode().IsRegular():
		return nil // a FIFO or a device: opening it could block, and serve writes to it as it is
	case err == nil:
		f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		return f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			if err := unix.Access(dir, unix.W_OK); err != nil {
				return fmt.Errorf("cannot create %s: %s: %w", path, dir, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(dir) == dir {
			return err
		}
		dir = filepath.Dir(dir)
	}
}

// redactorOfReadable redacts the known token shapes and every configured
// secret that can be read. One that cannot (an empty NAME_FILE, both NAME
// and NAME_FILE set) is said on stderr, and the others are still redacted:
// doctor is run precisely when serve refuses to start so.
func redactorOfReadable(stderr io.Writer) *redact.Redactor {
	red, unread := config.Redactor(getenv)
	for _, err := range unread {
		printErr(stderr, "doctor", err)
	}
	return red
}

// cell is s for one cell of doctor's table: quoted, as Go writes a string,
// when it holds a control character (a writeAudit target is the agent's
// text, and a newline or tab in it forged a row of its own; found in
// review).
func cell(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
