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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/queue"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
	"github.com/saas-mcp/saas-mcp/internal/worker"
)

// runWebhooksDead lists dead-lettered deliveries.
func runWebhooksDead(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		printWebhooksHelp(stdout)
		return 0
	}
	fs := flag.NewFlagSet("webhooks dead", flag.ContinueOnError)
	fs.SetOutput(redactingWriter{stderr})
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// It takes no filter: an id here would list every dead letter as if
	// it had been filtered.
	if code, ok := noArgs("webhooks dead", fs.Args(), stderr); !ok {
		return code
	}
	if !haveQueue("webhooks dead", stderr) {
		return 1
	}
	app, err := openWebhookApp(ctx, stderr, false, false)
	if err != nil {
		printErr(stderr, "webhooks dead", err)
		return 1
	}
	defer app.close()
	dead, err := deadLetters(ctx, app.db)
	if err != nil {
		printErr(stderr, "webhooks dead", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, d := range dead {
			_ = enc.Encode(map[string]any{
				"id": d.ID, "key": d.Key, "provider": d.Provider, "eventType": d.EventType, "target": d.Target,
				"state": deadState(d), "attempts": d.Attempts, "lastError": d.LastError, "receivedAt": d.ReceivedAt.UTC(),
				"replays": d.Replays,
			})
		}
		return 0
	}
	if len(dead) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tEVENT\tSTATE\tATTEMPTS\tRECEIVED\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s.%s\t%s\t%d\t%s\t%s\n", d.ID, d.Key, d.Provider, d.EventType, deadState(d), d.Attempts,
			d.ReceivedAt.UTC().Format(time.RFC3339), oneLine(d.LastError, 80))
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "\n%d dead letter(s); run them again with: saas-mcp webhooks replay <id> | --all-dead\n", len(dead))
	return 0
}

// haveQueue reports whether DATA_DIR holds a webhook queue, and says so on
// stderr when it does not. The admin commands read an existing queue: on a
// mistyped DATA_DIR, or from the wrong working directory, opening it would
// create an empty queue and payments ledger there and answer "no dead
// letters" as if all were well.
func haveQueue(cmd string, stderr io.Writer) bool {
	wc, err := config.LoadWebhook(getenv)
	if err != nil {
		printErr(stderr, cmd, err)
		return false
	}
	dir := wc.DataDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	_, err = os.Stat(filepath.Join(dir, queue.FileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		printErr(stderr, cmd, fmt.Errorf("no webhook queue in %s: has \"saas-mcp webhooks\" run with this DATA_DIR?", dir))
		return false
	case err != nil:
		printErr(stderr, cmd, fmt.Errorf("open the webhook queue in %s: %w", dir, err))
		return false
	}
	return true
}

// deadLetters lists the dead letters and, after them, the stranded
// deliveries: pending, but no job will ever run them (their job gave up
// while the store was failing). Both need an operator's replay. Tombstones
// are left out: they were never accepted, and an earlier version could
// replay one into a dead letter that no replay mends.
func deadLetters(ctx context.Context, db *queue.DB) ([]queue.Delivery, error) {
	dead, err := db.List(ctx, queue.StateDead, 0)
	if err != nil {
		return nil, err
	}
	stranded, err := db.Stranded(ctx)
	if err != nil {
		return nil, err
	}
	var out []queue.Delivery
	for _, d := range append(dead, stranded...) {
		if !worker.IsTombstone(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// deadState is "dead", or "stranded" for a pending delivery no job runs.
func deadState(d queue.Delivery) string {
	if d.State == queue.StatePending {
		return "stranded"
	}
	return d.State
}

// runWebhooksReplay makes deliveries pending again, enqueues them and, unless
// --no-wait, runs a worker here until they are all processed or dead again.
func runWebhooksReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		printWebhooksHelp(stdout)
		return 0
	}
	fs := flag.NewFlagSet("webhooks replay", flag.ContinueOnError)
	fs.SetOutput(redactingWriter{stderr})
	allDead := fs.Bool("all-dead", false, "replay every dead-lettered (or stranded) delivery")
	noWait := fs.Bool("no-wait", false, "enqueue only; a running worker will run them")
	if err := fs.Parse(flagsFirst(args)); err != nil {
		return 2
	}
	if *allDead == (fs.NArg() > 0) {
		fmt.Fprintln(stderr, "saas-mcp webhooks replay: give delivery ids or keys, or --all-dead")
		return 2
	}
	if !haveQueue("webhooks replay", stderr) {
		return 1
	}
	app, err := openWebhookApp(ctx, stderr, true, false)
	if err != nil {
		printErr(stderr, "webhooks replay", err)
		return 1
	}
	defer app.close()
	// A reference that names no delivery (a typo in a pasted list) fails
	// the command but does not hold the others back (found in review: one
	// unknown id replayed none of fifty).
	ids, lookupErr := replayTargets(ctx, app.db, *allDead, fs.Args())
	if lookupErr != nil {
		printErr(stderr, "webhooks replay", lookupErr)
	}
	named := len(ids) // deliveries, each once: plus the references that named none
	if joined, ok := lookupErr.(interface{ Unwrap() []error }); ok && !*allDead {
		named += len(joined.Unwrap())
	}
	if len(ids) == 0 {
		if lookupErr != nil {
			return 1
		}
		fmt.Fprintln(stdout, "nothing to replay")
		return 0
	}
	if err := app.newRiver(); err != nil {
		printErr(stderr, "webhooks replay", err)
		return 1
	}
	bar := newProgress(stdout)
	replayed, rerr := app.wk.Replay(ctx, app.river, ids, bar.step("enqueued"))
	bar.done()
	if rerr != nil {
		printErr(stderr, "webhooks replay", rerr, app.red)
	}
	rerr = errors.Join(lookupErr, rerr)
	fmt.Fprintf(stdout, "replayed %d of %d deliveries\n", len(replayed), named)
	if *noWait || len(replayed) == 0 {
		return exitCode(rerr)
	}
	if err := app.startWorker(ctx); err != nil {
		printErr(stderr, "webhooks replay", err)
		return 1
	}
	werr := worker.WaitFinished(ctx, app.db, replayed, 100*time.Millisecond, bar.step("finished"))
	bar.done()
	app.stopWorker()
	if werr != nil {
		printErr(stderr, "webhooks replay", werr)
		return 1
	}
	var dead int
	for _, id := range replayed {
		if d, err := app.db.Find(ctx, fmt.Sprint(id)); err == nil && d.State == queue.StateDead {
			dead++
		}
	}
	fmt.Fprintf(stdout, "processed %d, dead again %d\n", len(replayed)-dead, dead)
	if dead > 0 {
		return 1
	}
	return exitCode(rerr)
}

// replayTargets resolves the deliveries to replay: every dead letter, or
// the ids and keys in refs, each delivery once and in the order first
// named. One named twice (by id and by key, or twice in a pasted list)
// would otherwise be replayed and then refused as pending already, failing
// a replay that went through.
func replayTargets(ctx context.Context, db *queue.DB, allDead bool, refs []string) ([]int64, error) {
	if allDead {
		dead, err := deadLetters(ctx, db)
		ids := make([]int64, len(dead))
		for i, d := range dead {
			ids[i] = d.ID
		}
		return ids, err
	}
	var ids []int64
	var errs []error
	seen := make(map[int64]bool, len(refs))
	seenRef := make(map[string]bool, len(refs)) // an unknown one named twice is reported once
	for _, ref := range refs {
		if seenRef[ref] {
			continue
		}
		seenRef[ref] = true
		d, err := db.Find(ctx, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !seen[d.ID] {
			seen[d.ID] = true
			ids = append(ids, d.ID)
		}
	}
	return ids, errors.Join(errs...)
}

// flagsFirst moves "-x" arguments before the others, so flags may follow the
// delivery ids (the flag package stops at the first non-flag).
func flagsFirst(args []string) []string {
	var flags, rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}

func exitCode(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = safetext.Cut(s, n-1) + "…" // at a character boundary
	}
	return s
}

// progress draws a bar on a terminal and nothing elsewhere (a pipe or a log
// file gets only the summary lines).
type progress struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// step returns a callback drawing done/total with a label.
func (p *progress) step(label string) func(done, total int) {
	return func(done, total int) {
		if !p.tty || total == 0 {
			return
		}
		const width = 30
		filled := done * width / total
		line := fmt.Sprintf("\r[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, label)
		if line != p.last {
			_, _ = io.WriteString(p.w, line)
			p.last = line
		}
	}
}

// done ends the bar's line.
func (p *progress) done() {
	if p.tty && p.last != "" {
		_, _ = io.WriteString(p.w, "\n")
		p.last = ""
	}
}
