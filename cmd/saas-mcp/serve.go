package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/dirs"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/mcpserver"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/startpages"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
	"github.com/saas-mcp/saas-mcp/tools"
)

const serveHelp = `saas-mcp serve: the MCP server on stdio.

stdout carries only JSON-RPC; logs are JSON lines on stderr. Nothing is sent
over the network at start-up; credentials are needed only by the tools that
use them.

Tools: sendMessage (Slack), createTicket (GitHub issues), recordPaymentEvent
(Stripe events into the payments ledger), writeAudit.

Up to 5 tool calls run at once and 1000 more wait. When stdin ends, every
request read is run and answered, then serve exits; SIGTERM or SIGINT cancels
the calls running (one not yet sent is refused), refuses those waiting, and
answers each before exiting.

Credentials (each also as NAME_FILE, a file holding the value):
  SLACK_BOT_TOKEN     Slack bot token (xoxb-...), for chat.postMessage
  SLACK_WEBHOOK_URL   Slack incoming-webhook URL, used when no bot token is set
  GITHUB_TOKEN        GitHub token that may create issues
  STRIPE_SECRET_KEY   Stripe secret or restricted key (sk_test_/rk_test_ in sandbox)

Variables:
`

func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, serveHelp)
		_ = config.Usage(stdout, &config.Serve{})
		return 0
	}
	if code, ok := noArgs("serve", args, stderr); !ok {
		return code
	}
	// A client that dies closes serve's stdout: Go's runtime ends a
	// program whose write to a broken stdout raises SIGPIPE, which would
	// cut short the calls still running, leaving them unrecorded and in
	// doubt (found in review). Ignored, the write fails with EPIPE, the
	// answers are lost (no one is left to read them), and the calls finish
	// and are audited before serve exits at the end of its input.
	signal.Ignore(syscall.SIGPIPE)
	if os.Getenv("GOGC") == "" {
		// A tool call allocates about 20 KB and keeps almost nothing, so a
		// GC twice as eager as the default costs next to no time and trims
		// 1.2 to 1.8 MiB off the peak resident set (make bench, GOGC 100
		// against 50: lower settings trimmed no more).
		debug.SetGCPercent(50)
	}
	app, err := openServe(ctx, stderr)
	if err != nil {
		if stoppedWhileStarting(ctx, err) {
			return 0 // a clean stop, as for webhooks and worker (found in review: exit 1, "context canceled")
		}
		printErr(stderr, "serve", err)
		return 1
	}
	defer app.close()

	// tools/call run on 5 workers from a queue; once the queue is full the
	// next call runs on the loop that reads stdin, which then reads
	// nothing else (a ping, a cancellation) until that call ends (found in
	// review: a ping took 6 to 12 s with 108 slow calls in flight against
	// mcp-go's default queue of 100).
	stdio := mcpserver.NewStdio(app.mcp, stdioWorkers, stdioQueue, app.log)
	// Start-up (every package's init, the schemas, the store's migrations)
	// has left most of the binary resident; once the first response is out
	// (initialize, or server/discover for clients without the handshake),
	// give back what the calls do not use.
	// The input schemas' compile, which runs meanwhile, is start-up too:
	// the pages are given back once it is done as well (released before it
	// ends, its pages would come back and stay). The first answer is out
	// already when this waits for it; the next waits with it, a millisecond
	// or two at most, and serve cannot exit before the release (found in
	// review: in a goroutine of its own, it could log after runServe had
	// returned, or not at all).
	out := &afterFirstLine{w: stdout, then: func() {
		if err := app.validator.Wait(); err != nil {
			app.log.Error("the tools' input schemas did not compile: every tools/call fails", "err", err)
		}
		releaseStartPages(app.log)
	}}
	// Read through the cancellation watch: a notifications/cancelled for a
	// call still queued for the workers then stops it too. At the end of
	// input the transport lets the requests read before it finish and
	// answer (see Stdio.Listen), a last line without its newline included;
	// the watch notes such a last cancellation too.
	in := app.cancels.Watch(stdin)
	// The calls' contexts end with chain.ErrStopping as their cause when a
	// signal stops serve, so that a call refused then says so rather than
	// blame the client.
	lctx, stopCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopCalls(nil)
	defer context.AfterFunc(ctx, func() { stopCalls(chain.ErrStopping) })()
	if err := stdio.Listen(lctx, in, app.progress.Output(out)); err != nil && !errors.Is(err, context.Canceled) {
		app.log.Error("stdio server stopped", "err", err)
		return 1
	}
	return 0
}

// stdioWorkers is how many tools/call run at once (mcp-go's default);
// stdioQueue how many more may wait before the reading loop itself runs
// one (see runServe); mcpserver's cancellation registry keeps more ids
// than this.
const (
	stdioWorkers = 5
	stdioQueue   = 1000
)

// serveApp is everything serve opened, to close in order.
type serveApp struct {
	mcp      *server.MCPServer
	cancels  *mcpserver.Cancellations
	progress *mcpserver.Progress
	log      *slog.Logger
	audit    *audit.Writer
	db       *sqlite.DB
	// validator compiles in the background from start-up on; the
	// start-up pages are released once it is done.
	validator *chain.Validator

	stopPrune context.CancelFunc // stops pruneLoop; pruned is closed when it has
	pruned    chan struct{}
}

func (a *serveApp) close() {
	if a.stopPrune != nil {
		// Before the store closes: a prune still running would otherwise
		// fail on the closed connection and log it (seen when the client
		// closed stdin right after start-up).
		a.stopPrune()
		<-a.pruned
	}
	if a.db != nil {
		_ = a.db.Close()
	}
	if a.audit != nil {
		_ = a.audit.Close()
	}
}

// openServe loads the configuration and builds the server. It touches only
// local files: no network at start-up.
func openServe(ctx context.Context, stderr io.Writer) (*serveApp, error) {
	cfg, err := config.LoadServe()
	if err != nil {
		return nil, err
	}
	secrets, err := config.LoadSecrets(getenv, config.CredentialNames...)
	if err != nil {
		return nil, err
	}
	if short := config.ShortSecrets(getenv); len(short) > 0 {
		return nil, short[0]
	}
	red, _ := config.Redactor(getenv, secrets.InUse()...) // every secret in the environment, the signing secrets too
	log := newLogger(stderr, cfg.LogLevel, red)
	app := &serveApp{log: log}

	app.audit, err = audit.Open(cfg.AuditLogPath, audit.Options{Sync: cfg.AuditSync == "always", Redactor: red})
	if err != nil {
		return nil, fmt.Errorf("AUDIT_LOG_PATH: %w", err)
	}
	recordRepair(ctx, app.audit, log)
	if err := dirs.MkdirAll(cfg.DataDir, 0o750); err != nil {
		app.close()
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	app.db, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "state.db"), sqlite.Options{Synchronous: strings.ToUpper(cfg.StoreSync), WriteAheadWAL: true})
	if err != nil {
		app.close()
		return nil, fmt.Errorf("open state in %s: %w", cfg.DataDir, err)
	}

	now := time.Now
	owner := idempotency.OwnerID()
	named := reportInDoubt(ctx, app.db.Keys(), app.audit, log, now())

	deps := tools.Deps{Env: cfg.Env, Ledger: app.db.Payments(), Audit: app.audit, Now: now, Redactor: red}
	buildClients(&deps, cfg, secrets, red)
	defs, err := tools.All(deps)
	if err != nil {
		app.close()
		return nil, err
	}
	// Compiled in the background: the first tools/call waits for it, the
	// answers before it do not (see chain.CompileValidator).
	validator := chain.CompileValidator(inputSchemas(defs))
	validator.Redactor = red
	app.validator = validator
	idem := &chain.Idempotency{
		Store:  app.db.Keys(),
		Policy: idempotency.Policy{Window: cfg.IdempotencyWindow, KeyTTL: cfg.IdempotencyKeyTTL, Lease: lease(cfg)},
		Owner:  owner, Alive: idempotency.Alive, Now: now, Audit: app.audit, Log: log,
		Failpoint: failpoint(getenv("SAAS_MCP_FAILPOINT"), log),
		Settle:    cfg.ReconcileSettle,
		Redactor:  red,
	}
	app.cancels = mcpserver.NewCancellations()
	app.progress = mcpserver.NewProgress()
	app.mcp = mcpserver.New(mcpserver.Options{
		Name: "saas-mcp", Version: version, Tools: defs,
		// The chain, declared once: every tool passes it in this order,
		// audit first; mcpserver adds its own check of the request right
		// after audit (arguments not an object, the client's cancellation).
		Audit: chain.Audit(app.audit, now, log),
		Middlewares: []chain.Middleware{
			chain.Validate(validator),
			chain.Guard(cfg.Env, secrets, chain.Policy{ReadOnly: cfg.ReadOnly}),
			chain.Secrets(secrets),
			idem.Middleware(),
		},
		Actor: cfg.AuditActor, Env: cfg.Env, Redactor: red, Log: log,
		Cancellations: app.cancels, Progress: app.progress,
	})
	pctx, stop := context.WithCancel(ctx)
	app.stopPrune, app.pruned = stop, make(chan struct{})
	go func() {
		defer close(app.pruned)
		pruneLoop(pctx, app.db.Keys(), app.audit, log, now, named)
	}()
	return app, nil
}

// afterFirstLine passes writes through to w and, once the first complete
// line (the first response) has been written, runs then, once.
type afterFirstLine struct {
	w    io.Writer
	then func()
	once sync.Once
}

func (a *afterFirstLine) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	if err == nil && bytes.IndexByte(p, '\n') >= 0 {
		a.once.Do(a.then)
	}
	return n, err
}

// releaseStartPages drops the binary's start-up-only pages from the
// resident set (see package startpages).
func releaseStartPages(log *slog.Logger) {
	res, err := startpages.Release()
	switch {
	case err != nil:
		log.Warn("could not release start-up pages", "err", err)
	case res.Skipped != "":
		log.Debug("start-up pages kept", "reason", res.Skipped)
	default:
		log.Debug("released start-up pages", "mappedBytes", res.Bytes)
	}
}

// failpoint returns a hook that kills this process with SIGKILL when a call
// reaches the named point (SAAS_MCP_FAILPOINT, for crash tests only), or nil.
func failpoint(point string, log *slog.Logger) func(string) {
	if point == "" {
		return nil
	}
	log.Warn("failpoint armed: the process will kill itself", "point", point)
	return func(at string) {
		if at == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never return: the process is going
		}
	}
}

// lease is how long a claim may run before others take it for in doubt: a
// call can wait HTTP_MAX_CALL_WAIT in all plus its attempts.
func lease(cfg config.Serve) time.Duration {
	return cfg.HTTPMaxCallWait + time.Duration(cfg.HTTPMaxAttempts)*cfg.HTTPTimeout + time.Minute
}

func inputSchemas(defs []tools.Definition) map[string][]byte {
	out := make(map[string][]byte, len(defs))
	for _, d := range defs {
		out[d.MCP.Name] = d.MCP.RawInputSchema
	}
	return out
}

// buildClients makes a provider client for each provider whose credentials
// are set. Building one sends nothing.
func buildClients(d *tools.Deps, cfg config.Serve, s config.Secrets, red *redact.Redactor) {
	httpClient := func(provider string, limits []httpx.Limit) *http.Client {
		// HTTP_TIMEOUT bounds a whole attempt, body included, so it is
		// httpx's AttemptTimeout rather than the base's
		// ResponseHeaderTimeout, which stops at the headers and would let a
		// stalled body hold the call (and its idempotency claim) for ever.
		base := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}
		return &http.Client{Transport: httpx.New(httpx.Options{
			Provider: provider, Base: base, MaxAttempts: cfg.HTTPMaxAttempts, AttemptTimeout: cfg.HTTPTimeout,
			MaxWait: cfg.HTTPMaxWait, MaxCallWait: cfg.HTTPMaxCallWait, Limits: limits, Redactor: red,
		}), CheckRedirect: httpx.SameHostRedirects}
	}
	token, hasToken := s.Get(config.SlackBotToken)
	hook, hasHook := s.Get(config.SlackWebhookURL)
	if hasToken || hasHook {
		d.Slack = slack.New(slack.Config{BaseURL: cfg.SlackAPIURL, Token: token, WebhookURL: hook,
			HTTPClient: httpClient("slack", httpx.SlackLimits(cfg.SlackPostGap)), Redactor: red})
	}
	if gh, ok := s.Get(config.GitHubToken); ok {
		d.GitHub = github.New(github.Config{BaseURL: cfg.GitHubAPIURL, Token: gh,
			HTTPClient: httpClient("github", httpx.GitHubLimits(cfg.GitHubWriteGap)), Redactor: red})
	}
	if key, ok := s.Get(config.StripeSecretKey); ok {
		d.Stripe = stripe.New(stripe.Config{BaseURL: cfg.StripeAPIURL, Key: key,
			HTTPClient: httpClient("stripe", httpx.StripeLimits()), Redactor: red})
	}
}

// reportInDoubt lists, at start-up, the keys whose provider call may have
// taken effect without a stored result, so an operator can see them. The
// next call with such a key reconciles with the provider before acting. It
// reports whether every one was named in the audit log.
func reportInDoubt(ctx context.Context, st idempotency.Store, sink audit.Sink, log *slog.Logger, now time.Time) bool {
	return reportInDoubtWhere(ctx, st, sink, log, now, func(idempotency.Claim) bool { return true })
}

// reportInDoubtWhere reports the keys in doubt that keep says to, and
// whether they could all be listed and named in the audit log.
func reportInDoubtWhere(ctx context.Context, st idempotency.Store, sink audit.Sink, log *slog.Logger, now time.Time, keep func(idempotency.Claim) bool) bool {
	claims, err := st.InDoubt(ctx, now, idempotency.Alive)
	if err != nil {
		log.Error("list in-doubt idempotency keys", "err", err)
		return false
	}
	named := true
	for _, c := range claims {
		if !keep(c) {
			continue
		}
		log.Warn("idempotency key in doubt", "key", idempotency.CallerKey(c.Key), "tool", c.Tool, "target", c.Target, "claimedAt", c.ClaimedAt)
		if err := sink.Write(ctx, chain.InDoubtRecord(c, now)); err != nil {
			log.Error("audit record of a key in doubt not written", "key", idempotency.CallerKey(c.Key), "err", err)
			named = false
		}
	}
	return named
}

// pruneLoop deletes expired keys now and then, so the store stays bounded.
// named says whether the start-up report named every key in doubt.
func pruneLoop(ctx context.Context, st idempotency.Store, sink audit.Sink, log *slog.Logger, now func() time.Time, named bool) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for first := true; ; first = false {
		// The start-up report has just named every key in doubt (unless
		// the audit log failed it); later, a key in doubt that is about to
		// be pruned (left by another process sharing DATA_DIR, which died,
		// or put back by a call refused for a failing audit log) is named
		// before its row, the only trace of a call that may have acted, is
		// deleted.
		pruneOnce(ctx, st, sink, log, now(), !first || !named)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce deletes the keys expired at now, having first reported those
// of them still in doubt when report is set. If one of those cannot be
// named (the audit log failing), nothing is pruned this time: its row is
// the only trace of a call that may have acted (found in review: the row
// a call refused for a failing audit log put back was pruned unnamed).
func pruneOnce(ctx context.Context, st idempotency.Store, sink audit.Sink, log *slog.Logger, now time.Time, report bool) {
	if report && !reportInDoubtWhere(ctx, st, sink, log, now, func(c idempotency.Claim) bool { return c.Expired(now) }) {
		log.Warn("expired idempotency keys not pruned: a key in doubt among them could not be named in the audit log; tried again in 10 minutes")
		return
	}
	if n, err := st.Prune(ctx, now); err != nil && ctx.Err() == nil {
		log.Error("prune idempotency keys", "err", err)
	} else if n > 0 {
		log.Info("pruned expired idempotency keys", "count", n)
	}
}

// recordRepair logs and audits the half-written last line that opening the
// audit log cut off (a process killed mid-write), whichever command opened
// it: serve, the webhook receiver or a worker.
func recordRepair(ctx context.Context, w *audit.Writer, log *slog.Logger) {
	if w.Repaired == 0 {
		return
	}
	log.Warn("audit log: cut off a half-written last line", "bytes", w.Repaired, "path", w.Path())
	if err := w.RecordRepair(ctx); err != nil {
		log.Warn("audit log: the repair's record goes in with the next record that can be written", "err", err)
	}
}
