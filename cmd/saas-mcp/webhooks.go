package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/queue"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
	"github.com/saas-mcp/saas-mcp/internal/webhook"
	"github.com/saas-mcp/saas-mcp/internal/worker"
)

const webhooksHelp = `saas-mcp webhooks: receive GitHub, Stripe and Slack webhooks durably.

Usage:
  saas-mcp webhooks [--no-worker]     serve the receiver (and, by default, the worker)
  saas-mcp webhooks dead [--json]     list dead-lettered deliveries (and stranded ones: pending, no job left)
  saas-mcp webhooks replay <delivery-id|key>... | --all-dead [--no-wait]
                                      run deliveries again (a progress bar on a terminal)
  saas-mcp worker                     run only the worker (for separate processes)

Endpoints: POST /webhooks/github, /webhooks/stripe, /webhooks/slack;
GET /healthz, /readyz. A verified delivery is answered 202 once its record is
synced to the payload log (DATA_DIR/webhooks.db.payloads); its row and job are
committed to DATA_DIR/webhooks.db just after, and a start after a crash
re-inserts from that log what the database lost or never got. A duplicate is
answered 202 too and enqueues nothing; a bad or stale signature 401; a body
over the limit 413.

SIGTERM or SIGINT: stop accepting, answer the requests in flight, let running
jobs finish (30s; then a delivery whose handler has run is still audited and
committed, and the rest are released for a later run), exit.

Signing secrets (each also as NAME_FILE; several comma-separated for rotation):
  GITHUB_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, SLACK_SIGNING_SECRET
` + maskedCredentials + `
Variables:
`

// maskedCredentials says why webhooks and worker read serve's credentials
// (found in review: one too short stopped them, and their help did not
// name it).
const maskedCredentials = `
serve's credentials (SLACK_BOT_TOKEN, SLACK_WEBHOOK_URL, GITHUB_TOKEN,
STRIPE_SECRET_KEY, each also as NAME_FILE) are read when set, only to mask
them in logs and audit records; one shorter than 4 characters stops the
command (no real credential is, and one so short could not be masked).
`

// workerHelp is `saas-mcp worker --help`: the worker alone reads no
// receiver variable (found in review: it printed the receiver's help).
const workerHelp = `saas-mcp worker: run only the webhook worker, beside a receiver (saas-mcp
webhooks --no-worker) or other workers sharing its DATA_DIR.

It runs the stored deliveries' handlers (Stripe payments to the ledger,
GitHub and Slack events to the audit log), retries failures with backoff and
dead-letters a delivery after WEBHOOK_MAX_ATTEMPTS. SIGTERM or SIGINT: let
running jobs finish (30s), then exit.
` + maskedCredentials + `
Variables:
`

// drainTimeout bounds each step of a graceful stop.
const drainTimeout = 30 * time.Second

func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "dead":
			return runWebhooksDead(ctx, args[1:], stdout, stderr)
		case "replay":
			return runWebhooksReplay(ctx, args[1:], stdout, stderr)
		}
	}
	if wantsHelp(args) {
		printWebhooksHelp(stdout)
		return 0
	}
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	fs.SetOutput(redactingWriter{stderr})
	noWorker := fs.Bool("no-worker", false, "serve the receiver only; run \"saas-mcp worker\" elsewhere")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// A mistyped subcommand ("deda"), or one after a flag, must not start
	// the receiver: it would bind WEBHOOK_ADDR and run until stopped.
	if code, ok := noArgs("webhooks", fs.Args(), stderr); !ok {
		return code
	}
	if os.Getenv("GOGC") == "" {
		// A body per request, little kept: a lazier GC costs a few MiB of
		// heap and gave 8-10% more deliveries per second (measured).
		debug.SetGCPercent(400)
	}
	app, err := openWebhookApp(ctx, stderr, !*noWorker, true)
	if err != nil {
		return startFailed(ctx, stderr, "webhooks", err)
	}
	receiverProcs.raise(os.Getenv("GOMAXPROCS"))
	defer app.close()
	if err := app.serve(ctx); err != nil {
		if stoppedWhileStarting(ctx, err) {
			app.log.Info("stopped while starting", "err", err)
			return 0
		}
		app.log.Error("webhook receiver stopped", "err", err)
		return 1
	}
	return 0
}

// startFailed reports a start-up that failed. One a stop signal cut short
// (SIGTERM while migrating, recovering or rescuing) is a clean stop, exit 0:
// a rolling deploy that stops a process just started must not see it fail
// (found in review: 23 of 40 such stops exited 1). Start-up steps are
// transactions, so nothing is left half done; the next start runs them.
func startFailed(ctx context.Context, stderr io.Writer, cmd string, err error) int {
	if stoppedWhileStarting(ctx, err) {
		fmt.Fprintf(stderr, "saas-mcp %s: stopped while starting (%v)\n", cmd, err)
		return 0
	}
	printErr(stderr, cmd, err)
	return 1
}

// stoppedWhileStarting reports whether err is the stop signal's own doing:
// ctx ended and the error is its cancellation, or database/sql's answer to
// committing a transaction that the cancellation rolled back. Any other
// error is a failure even when a signal came at the same time (a busy
// WEBHOOK_ADDR, a broken audit log): exit 1 (found in review).
func stoppedWhileStarting(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, sql.ErrTxDone))
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, workerHelp)
		_ = config.UsageOf(stdout, &config.Webhook{}, "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_WORKERS", "WEBHOOK_RETENTION", "DATA_DIR")
		fmt.Fprint(stdout, "\nAlso read as serve reads them: AUDIT_LOG_PATH, AUDIT_SYNC, INTEGRATION_ENV, STORE_SYNC, LOG_LEVEL.\n")
		return 0
	}
	if code, ok := noArgs("worker", args, stderr); !ok {
		return code
	}
	app, err := openWebhookApp(ctx, stderr, true, false)
	if err != nil {
		return startFailed(ctx, stderr, "worker", err)
	}
	defer app.close()
	if err := app.startWorker(ctx); err != nil {
		if stoppedWhileStarting(ctx, err) {
			app.log.Info("stopped while starting", "err", err)
			return 0
		}
		app.log.Error("worker failed", "err", err)
		return 1
	}
	app.log.Info("webhook worker running", "db", app.db.Path(), "workers", app.cfg.Workers)
	releaseStartPages(app.log) // as in webhooks: start-up's pages back
	<-ctx.Done()
	app.stopWorker()
	return 0
}

func printWebhooksHelp(w io.Writer) {
	fmt.Fprint(w, webhooksHelp)
	_ = config.Usage(w, &config.Webhook{})
	fmt.Fprint(w, "\nAlso read as serve reads them: AUDIT_LOG_PATH, AUDIT_SYNC, INTEGRATION_ENV, STORE_SYNC, LOG_LEVEL.\n")
}

// webhookApp is what the webhook commands open, closed in reverse.
type webhookApp struct {
	cfg        config.Webhook
	serveC     config.Serve
	log        *slog.Logger
	red        *redact.Redactor
	audit      *audit.Writer
	db         *queue.DB
	state      *sqlite.DB // the payments ledger (state.db), for the worker
	lock       *queue.WorkerLock
	wk         *worker.Worker
	river      *queue.Client
	stopRescue context.CancelFunc
	riverLog   *slog.Logger // River's own lifecycle lines are info; keep warnings only
	// intake is the receiver's, once it runs in this process; the worker
	// defers to it while it takes in deliveries.
	intake atomic.Pointer[queue.Intake]
}

// intakeBusy reports whether this process's receiver is taking in deliveries.
func (a *webhookApp) intakeBusy() bool {
	in := a.intake.Load()
	return in != nil && in.Busy()
}

// openWebhookApp loads the configuration and opens the audit log and the
// deliveries database; withWorker also opens the payments ledger.
func openWebhookApp(ctx context.Context, stderr io.Writer, withWorker, receiver bool) (*webhookApp, error) {
	sc, err := config.LoadShared()
	if err != nil {
		return nil, err
	}
	wc, err := config.LoadWebhook(getenv)
	if err != nil {
		return nil, err
	}
	if receiver {
		if err := wc.ValidateReceiver(); err != nil {
			return nil, err
		}
	}
	if short := config.ShortSecrets(getenv); len(short) > 0 {
		return nil, short[0]
	}
	red, _ := config.Redactor(getenv, wc.InUse()...) // every secret in the environment, serve's credentials too
	app := &webhookApp{cfg: wc, serveC: sc, red: red, log: newLogger(stderr, sc.LogLevel, red),
		riverLog: newLogger(stderr, "warn", red).With("component", "river")}
	app.audit, err = audit.Open(sc.AuditLogPath, audit.Options{Sync: sc.AuditSync == "always", Redactor: red})
	if err != nil {
		return nil, fmt.Errorf("AUDIT_LOG_PATH: %w", err)
	}
	recordRepair(ctx, app.audit, app.log)
	sync := strings.ToUpper(sc.StoreSync)
	app.db, err = queue.Open(ctx, filepath.Join(wc.DataDir, queue.FileName), queue.Options{Synchronous: sync})
	if err != nil {
		app.close()
		return nil, err
	}
	if withWorker {
		app.state, err = sqlite.Open(ctx, filepath.Join(wc.DataDir, "state.db"), sqlite.Options{Synchronous: sync, WriteAheadWAL: true})
		if err != nil {
			app.close()
			return nil, fmt.Errorf("open payments ledger in %s: %w", wc.DataDir, err)
		}
		app.wk = worker.New(worker.Deps{
			DB: app.db, Audit: app.audit, Ledger: app.state.Payments(), Env: sc.Env,
			MaxAttempts: wc.MaxAttempts, Log: app.log, Redactor: red, Busy: app.intakeBusy,
		})
	}
	return app, nil
}

// newRiver makes the River client: with the workers when the worker runs
// here, insert-only otherwise.
func (a *webhookApp) newRiver() error {
	cfg := queue.RiverConfig{MaxWorkers: a.cfg.Workers, Logger: newLogger(io.Discard, "error", a.red)}
	if a.wk != nil {
		var err error
		if a.lock, err = queue.NewWorkerLock(filepath.Join(a.cfg.DataDir, "webhook-workers")); err != nil {
			return err
		}
		ws := river.NewWorkers()
		a.wk.Register(ws)
		cfg.Workers, cfg.ID = ws, a.lock.ID
		cfg.Logger = a.riverLog
	}
	c, err := a.db.NewRiver(cfg)
	a.river = c
	return err
}

// startWorker releases jobs orphaned by dead processes, starts River and a
// loop that keeps releasing orphans of workers that die later and prunes
// deliveries processed more than WEBHOOK_RETENTION ago.
func (a *webhookApp) startWorker(ctx context.Context) error {
	if a.river == nil {
		if err := a.newRiver(); err != nil {
			return err
		}
	}
	alive := queue.AliveIn(filepath.Join(a.cfg.DataDir, "webhook-workers"))
	if n, err := a.db.RescueOrphans(ctx, alive, a.wk.Backoff); err != nil {
		return err
	} else if n > 0 {
		a.log.Warn("released jobs left running by a stopped process", "jobs", n)
	}
	// River stops on its own context's end; it gets one that outlives the
	// signal so that stopWorker can drain it.
	if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	a.stopRescue = cancel
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if n, err := a.db.RescueOrphans(rctx, alive, a.wk.Backoff); err != nil {
					a.log.Warn("release orphaned jobs", "err", err)
				} else if n > 0 {
					a.log.Warn("released jobs left running by a stopped process", "jobs", n)
				}
				// Every chunk up to a third of the tick, so that the
				// retention bound holds under a sustained intake while the
				// intake keeps getting the write lock between chunks.
				if n, err := a.db.PruneAll(rctx, time.Now().Add(-a.cfg.Retention), 1000, 10*time.Second); err != nil && rctx.Err() == nil {
					a.log.Warn("prune processed deliveries", "err", err)
				} else if n > 0 {
					a.log.Info("pruned processed deliveries", "deliveries", n, "olderThan", a.cfg.Retention.String())
				}
			}
		}
	}()
	return nil
}

// stopWorker lets running jobs finish for drainTimeout, then cancels them:
// a cancelled job is retried later, so nothing accepted is lost.
func (a *webhookApp) stopWorker() {
	if a.stopRescue != nil {
		a.stopRescue()
	}
	if a.river == nil || a.wk == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := a.river.Stop(ctx); err != nil {
		a.log.Warn("jobs still running at the drain deadline; cancelling them", "err", err)
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		if err := a.river.StopAndCancel(cctx); err != nil {
			// Still running: a stop is not an attempt, as River counts
			// it for the jobs it could cancel.
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer hcancel()
			if n, err := a.db.HandBack(hctx, a.lock.ID); err != nil {
				a.log.Error("hand back jobs still running", "err", err)
			} else if n > 0 {
				a.log.Warn("handed back jobs still running at the cancel deadline, not counted as attempts", "jobs", n)
			}
		}
	}
}

// serve runs the receiver until ctx ends, then drains it.
func (a *webhookApp) serve(ctx context.Context) error {
	if err := a.newRiver(); err != nil {
		return err
	}
	// The intake mends what a crash left before the worker starts, so no
	// job runs against a torn payload.
	intake, err := queue.NewIntake(ctx, a.db, queue.IntakeOptions{
		Jobs:     queue.RiverInserter(a.river, 25),
		Receipts: webhook.ReceiptAuditor(a.audit),
	})
	if err != nil {
		return err
	}
	a.intake.Store(intake)
	if a.wk != nil {
		if err := a.startWorker(ctx); err != nil {
			intake.Close()
			return err
		}
	}
	if rec := intake.Recovered(); rec != (queue.Recovery{}) {
		a.log.Warn("recovered the payload segments after a crash", "reinserted", rec.Reinserted,
			"tombstoned", rec.Tombstoned, "cutBytes", rec.CutBytes)
	}
	if rec := intake.Recovered(); rec.Corrupt > 0 {
		a.log.Error("payload segment records damaged after they were synced; their deliveries will dead-letter",
			"records", rec.Corrupt)
	}
	h := webhook.NewHandler(webhook.Options{
		Store: intake, Audit: a.audit,
		Secrets: webhook.Secrets{GitHub: a.cfg.GitHubSecrets, Stripe: a.cfg.StripeSecrets, Slack: a.cfg.SlackSecrets},
		MaxBody: a.cfg.MaxBodyFor, Log: a.log,
		Ready: func(ctx context.Context) error {
			if err := a.ready(ctx); err != nil {
				return err
			}
			return intake.Healthy()
		},
	})
	srv := webhook.NewServer(a.cfg.Addr, h, webhook.ServerOptions{ErrorLog: slogStd(a.log)})
	ln, err := webhook.Listen(a.cfg.Addr, a.cfg.MaxConns)
	if err != nil {
		intake.Close()
		a.stopWorker()
		return fmt.Errorf("WEBHOOK_ADDR: listen on %s: %w", a.cfg.Addr, err)
	}
	a.log.Info("webhook receiver listening", "addr", ln.Addr().String(), "db", a.db.Path(), "worker", a.wk != nil,
		"maxConns", a.cfg.MaxConns)
	warnSecrets(a.log, a.cfg)
	// Start-up (every package's init, recovery, migrations) has left most
	// of the binary resident; give back what receiving does not use.
	releaseStartPages(a.log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	a.log.Info("stopping: draining the receiver", "delay", a.cfg.DrainDelay.String())
	h.Drain()
	if err == nil && a.cfg.DrainDelay > 0 {
		// /readyz says draining while deliveries are still taken, so a load
		// balancer stops sending before the listener closes.
		time.Sleep(a.cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		a.log.Warn("requests still open at the drain deadline", "err", serr)
	}
	h.FlushRefusals()
	// Everything answered 202 is committed by now, or, if the database kept
	// failing, left in the payload log for the next start to store.
	intake.Close()
	a.stopWorker()
	batches, items := intake.Stats()
	a.log.Info("webhook receiver stopped", "deliveries", items, "batches", batches, "commits", intake.Commits())
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// warnSecrets warns, at start-up, of a provider without a signing secret
// (its deliveries are refused with 503) and of secrets shorter than
// shortSecret bytes: easy to guess, and, as every configured secret is
// masked wherever its text appears, a short one that is also an ordinary
// word mangles log lines and audit records (review observation). Counts
// and names only, never a value.
func warnSecrets(log *slog.Logger, cfg config.Webhook) {
	for _, p := range []struct {
		name    string
		secrets []config.Secret
	}{{"GITHUB_WEBHOOK_SECRET", cfg.GitHubSecrets}, {"STRIPE_WEBHOOK_SECRET", cfg.StripeSecrets}, {"SLACK_SIGNING_SECRET", cfg.SlackSecrets}} {
		if len(p.secrets) == 0 {
			log.Warn("no signing secret: this provider's deliveries are refused with 503", "variable", p.name)
			continue
		}
		short := 0
		for _, s := range p.secrets {
			if len(s.Reveal()) < shortSecret {
				short++
			}
		}
		if short > 0 {
			log.Warn("signing secret shorter than 16 characters: easy to guess, and masked wherever its text appears in logs and audit records; use a long random one",
				"variable", p.name, "secrets", short)
		}
	}
}

// shortSecret is the length under which warnSecrets warns: GitHub asks for
// a random string with high entropy; Stripe's and Slack's are 32 or more.
const shortSecret = 16

func (a *webhookApp) close() {
	if a.lock != nil {
		_ = a.lock.Release()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
	if a.state != nil {
		_ = a.state.Close()
	}
	if a.audit != nil {
		_ = a.audit.Close()
	}
}

// ready is the first half of /readyz: the queue can store (no sticky sync
// error), the audit log can be written (every delivery's receipt, and
// the worker's records, go there) and state.db's ledger can be synced. The handler's Ready then asks
// Intake.Healthy: deliveries are being taken in and indexed.
func (a *webhookApp) ready(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return err
	}
	if err := a.audit.Healthy(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if a.state != nil {
		if err := a.state.Healthy(); err != nil {
			return fmt.Errorf("payments ledger: %w", err)
		}
	}
	return nil
}

// extraProcs returns the GOMAXPROCS the receiver runs with, one more than
// the runtime chose (procs), or 0 to leave it: when the GOMAXPROCS
// variable (env) sets it, or with a single P (one core: a second would
// only share it). The intake's payload flush holds its P while the disk
// flushes (queue.HoldPDuringSyncs), and the extra P keeps the other cores
// busy meanwhile; the thread that holds it sleeps in the kernel.
//
// Setting GOMAXPROCS turns the runtime's own updates of it off (Go 1.25+:
// a container's CPU limit changed while it runs is not followed). Under a
// CPU limit the runtime chooses at least 2, so a container limited to one
// CPU runs 3 Ps, one of them mostly asleep in flushes.
func extraProcs(env string, procs int) int {
	if env != "" || procs < 2 {
		return 0
	}
	return procs + 1
}

// procRaiser raises GOMAXPROCS for the receiver once per process, however
// often it starts (found in review: each start in a process added one
// more), and only then lets the flushes hold their P.
type procRaiser struct{ once sync.Once }

var receiverProcs procRaiser

func (r *procRaiser) raise(env string) {
	r.once.Do(func() {
		if n := extraProcs(env, runtime.GOMAXPROCS(0)); n > 0 {
			runtime.GOMAXPROCS(n)
			queue.HoldPDuringSyncs()
		}
	})
}
