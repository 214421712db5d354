package fakesaas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Credentials the fake accepts when no option names others. They have the
// providers' token shapes, so redaction by shape applies to them too.
const (
	SlackToken       = "xoxb-fakesaas-0000-token"
	SlackWebhookPath = "/services/T000/B000/XXXX"
	GitHubToken      = "ghp_fakesaas0000token"
	GitHubLogin      = "saas-mcp-bot"
	StripeKey        = "sk_test_fakesaas0000"
	StripeLiveKey    = "sk_live_fakesaas0000"
)

// Server is a running fake. All its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, without a trailing slash.
	URL string

	ts        *httptest.Server
	cfg       settings
	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	faults   []*faultEntry
	requests []Request
	slack    slackState
	github   githubState
	stripe   stripeState
}

// settings are what the options set.
type settings struct {
	now            func() time.Time
	slackTokens    []string
	slackChannels  []SlackChannel  // nil: the default workspace, where every channel ID exists
	slackUsers     map[string]bool // nil: every user ID exists
	webhookPath    string
	webhookChannel string
	githubTokens   map[string]string // token -> login
	githubRepos    map[string]bool   // nil: every repository exists
	stripeKeys     []string
	control        bool
	githubPrefix   string // "" or "/api/v3"-like, no trailing slash
}

// Option configures a Server.
type Option func(*settings)

// WithClock sets the clock used for timestamps (Slack ts, GitHub created_at,
// Stripe created). The default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// WithSlackChannels limits the channels that exist to these IDs, each named
// as its ID in lower case ("C1" is #c1); any other channel answers
// channel_not_found. By default the workspace holds the channels of
// DefaultSlackChannels, and every other channel ID ("C..." or "G...") exists
// too, unnamed and unlisted, so a test may post anywhere.
func WithSlackChannels(ids ...string) Option {
	return func(s *settings) {
		for _, id := range ids {
			s.slackChannels = append(s.slackChannels, SlackChannel{ID: id, Name: strings.ToLower(id)})
		}
	}
}

// WithSlackChannel adds a channel with its own name, privacy and archival
// to the workspace; like WithSlackChannels, it limits the channels that
// exist to those given.
func WithSlackChannel(c SlackChannel) Option {
	return func(s *settings) { s.slackChannels = append(s.slackChannels, c) }
}

// WithSlackUsers limits the users that exist, for DMs; by default every user
// ID ("U..." or "W...") exists.
func WithSlackUsers(ids ...string) Option {
	return func(s *settings) {
		if s.slackUsers == nil {
			s.slackUsers = map[string]bool{}
		}
		for _, id := range ids {
			s.slackUsers[id] = true
		}
	}
}

// WithGitHubToken adds an accepted GitHub token and the login it belongs to.
// Once any is given, the default GitHubToken is no longer accepted.
func WithGitHubToken(token, login string) Option {
	return func(s *settings) {
		if s.githubTokens == nil {
			s.githubTokens = map[string]string{}
		}
		s.githubTokens[token] = login
	}
}

// WithGitHubRepos limits the repositories ("owner/name") that exist; others
// answer 404. By default every repository exists.
func WithGitHubRepos(repos ...string) Option {
	return func(s *settings) {
		if s.githubRepos == nil {
			s.githubRepos = map[string]bool{}
		}
		for _, r := range repos {
			s.githubRepos[r] = true
		}
	}
}

// WithGitHubPathPrefix also serves the GitHub endpoints under prefix, as
// GitHub Enterprise Server does under "/api/v3", for clients that build their
// REST base URL from a host. The prefix is stripped before anything else sees
// the request, so recorded requests, fault paths and endpoints are the same
// with or without it; GitHubAPIURL and the URLs in answers include it.
func WithGitHubPathPrefix(prefix string) Option {
	return func(s *settings) { s.githubPrefix = "/" + strings.Trim(prefix, "/") }
}

// WithControl enables the /_fakesaas/ control endpoints, so another process
// can inject faults, seed Stripe events and read effects. Off by default.
func WithControl() Option { return func(s *settings) { s.control = true } }

func newSettings(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.slackTokens) == 0 {
		s.slackTokens = []string{SlackToken}
	}
	if s.webhookPath == "" {
		s.webhookPath = SlackWebhookPath
	}
	if s.webhookChannel == "" {
		s.webhookChannel = "C0WEBHOOK"
	}
	if len(s.githubTokens) == 0 {
		s.githubTokens = map[string]string{GitHubToken: GitHubLogin}
	}
	if len(s.stripeKeys) == 0 {
		s.stripeKeys = []string{StripeKey, StripeLiveKey}
	}
	return s
}

// New starts a fake on a free loopback port. Like httptest.NewServer it
// panics if it cannot listen. Call Close when done.
func New(opts ...Option) *Server {
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		panic(fmt.Sprintf("fakesaas: %v", err))
	}
	return s
}

// Start serves a fake on addr (host:port), for a process that runs it on a
// known port, such as a local demo. Call Close to stop it.
func Start(addr string, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s := &Server{cfg: newSettings(opts), closing: make(chan struct{})}
	s.slack.init(s.cfg)
	s.github.init()
	s.stripe.init()
	s.ts = httptest.NewUnstartedServer(s.stripGitHubPrefix(s.routes()))
	_ = s.ts.Listener.Close() // replaced by the listener on addr
	s.ts.Listener = ln
	s.ts.Start()
	s.URL = s.ts.URL
	return s, nil
}

// Close unblocks hanging faults and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// SlackAPIURL is the base URL for a Slack client, with a trailing slash.
func (s *Server) SlackAPIURL() string { return s.URL + "/api/" }

// SlackWebhookURL is the incoming-webhook URL the fake accepts.
func (s *Server) SlackWebhookURL() string { return s.URL + s.cfg.webhookPath }

// GitHubAPIURL is the base URL for a GitHub client, with a trailing slash.
func (s *Server) GitHubAPIURL() string { return s.URL + s.cfg.githubPrefix + "/" }

// StripeAPIURL is the base URL for a Stripe client.
func (s *Server) StripeAPIURL() string { return s.URL }

// maxBody bounds a request body; the providers' own limits are of this order.
const maxBody = 1 << 20

// endpoint handles one request and returns the answer instead of writing it,
// so a fault can apply the effect and then answer something else.
type endpoint func(r *http.Request) reply

// reply is an answer not yet written.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response structs are marshalled; failing is a bug here.
		panic(fmt.Sprintf("fakesaas: marshal response: %v", err))
	}
	return reply{status: status, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: b}
}

func textReply(status int, text string) reply {
	return reply{status: status, header: http.Header{"Content-Type": {"text/html"}}, body: []byte(text)}
}

func (rep reply) write(w http.ResponseWriter) {
	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, e endpoint) { mux.Handle(pattern, s.serve(e)) }
	handle("POST /api/chat.postMessage", s.slackPostMessage)
	handle("/api/conversations.history", s.slackHistory)
	handle("/api/conversations.replies", s.slackReplies)
	handle("/api/conversations.list", s.slackList)
	handle("/api/conversations.open", s.slackOpen)
	handle("POST /services/", s.slackWebhook)
	handle("POST /repos/{owner}/{repo}/issues", s.githubCreateIssue)
	handle("GET /repos/{owner}/{repo}/issues", s.githubListIssues)
	handle("GET /user", s.githubUser)
	handle("GET /v1/events/{id}", s.stripeGetEvent)
	if s.cfg.control {
		s.controlRoutes(mux)
	}
	mux.Handle("/", s.serve(func(r *http.Request) reply {
		return jsonReply(http.StatusNotFound, map[string]string{"message": "Not Found"})
	}))
	return mux
}

type prefixKey struct{}

// stripGitHubPrefix removes the WithGitHubPathPrefix prefix from the path and
// remembers it for the URLs in answers (see apiBase).
func (s *Server) stripGitHubPrefix(h http.Handler) http.Handler {
	p := s.cfg.githubPrefix
	if p == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, p)
		if !ok || !strings.HasPrefix(rest, "/") {
			h.ServeHTTP(w, r)
			return
		}
		r2 := r.WithContext(context.WithValue(r.Context(), prefixKey{}, p))
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		r2.URL = &u
		h.ServeHTTP(w, r2)
	})
}

// serve records the request, applies the first matching fault, and otherwise
// answers with the endpoint.
func (s *Server) serve(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the whole body first: net/http notices a client hanging up
		// (and cancels r.Context) only once the body is consumed, and a
		// hanging fault must end when the client gives up.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			textReply(http.StatusRequestEntityTooLarge, "request body too large").write(w)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		f := s.takeFault(r)
		s.record(r, f)
		if f == nil {
			e(r).write(w)
			return
		}
		s.applyFault(w, r, f.Fault, e)
	})
}
