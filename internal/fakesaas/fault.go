package fakesaas

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Mode is what a fault does with a matching request.
type Mode int

// The fault modes. The Commit* modes let the endpoint apply its effect first:
// they are the cases where the caller cannot tell whether its call worked.
const (
	// Respond answers with Status, Header and Body without calling the
	// endpoint (no effect). With Status 0 it only delays, then the endpoint
	// answers as usual: a slow provider.
	Respond Mode = iota
	// Drop closes the connection without an answer and without the effect.
	Drop
	// Hang holds the request without the effect until the client gives up.
	Hang
	// CommitThenFail applies the effect, then answers Status (default 500).
	CommitThenFail
	// CommitThenClose applies the effect, then closes the connection.
	CommitThenClose
	// CommitThenHang applies the effect, then holds the request until the
	// client gives up: a response slower than the client's timeout.
	CommitThenHang
)

var modeNames = []string{"respond", "drop", "hang", "commit_then_fail", "commit_then_close", "commit_then_hang"}

// String returns the mode's name as used in JSON.
func (m Mode) String() string {
	if int(m) >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// MarshalText implements encoding.TextMarshaler for the control endpoint.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the control endpoint.
func (m *Mode) UnmarshalText(b []byte) error {
	for i, n := range modeNames {
		if n == string(b) {
			*m = Mode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown fault mode %q", b)
}

// Fault changes how the fake answers matching requests.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string `json:"method,omitempty"`
	// Path matches requests whose path starts with it; empty matches any.
	Path string `json:"path,omitempty"`
	// Times is how many matching requests the fault affects; 0 means every
	// one until ClearFaults.
	Times int `json:"times,omitempty"`
	// Mode is what happens; the zero value is Respond.
	Mode Mode `json:"mode"`
	// Status is the answer for Respond and CommitThenFail.
	Status int `json:"status,omitempty"`
	// Header is added to the answer (Retry-After, X-RateLimit-Reset, ...).
	Header http.Header `json:"header,omitempty"`
	// Body is the answer's body; empty picks the provider's usual error body.
	Body string `json:"body,omitempty"`
	// Delay is waited before answering (after the effect for Commit* modes).
	// A client that gives up first ends the wait.
	Delay time.Duration `json:"delay,omitempty"`
}

type faultEntry struct {
	Fault
	left int // remaining uses; <0 for a persistent fault
}

// Inject adds a fault. Faults are matched in the order they were injected, so
// two faults with Times 1 on the same path apply one after the other.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultEntry{Fault: f, left: left})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault matching r and uses it up once.
func (s *Server) takeFault(r *http.Request) *faultEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if !strings.HasPrefix(r.URL.Path, f.Path) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, e endpoint) {
	switch f.Mode {
	case CommitThenFail, CommitThenClose, CommitThenHang:
		e(r)
	}
	switch f.Mode {
	case Hang, CommitThenHang:
		s.wait(r, -1)
		return
	}
	if !s.wait(r, f.Delay) {
		return
	}
	switch f.Mode {
	case Drop, CommitThenClose:
		closeConn(w)
	case CommitThenFail:
		s.faultReply(r, f, http.StatusInternalServerError).write(w)
	default: // Respond
		if f.Status == 0 {
			e(r).write(w)
			return
		}
		s.faultReply(r, f, f.Status).write(w)
	}
}

// wait sleeps for d (forever when d < 0) and reports whether the client is
// still there: the client going away or the server closing ends the wait.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d == 0 {
		return true
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}

// closeConn drops the connection without writing a response, as a crashed
// proxy or a reset would.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (s *Server) faultReply(r *http.Request, f Fault, fallback int) reply {
	status := f.Status
	if status == 0 {
		status = fallback
	}
	rep := defaultFaultBody(r.URL.Path, status)
	if f.Body != "" {
		rep.body = []byte(f.Body)
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			rep.header.Add(k, v)
		}
	}
	return rep
}

// defaultFaultBody is the error body each provider sends with status.
func defaultFaultBody(path string, status int) reply {
	switch {
	case strings.HasPrefix(path, "/api/"):
		if status == http.StatusTooManyRequests {
			return jsonReply(status, map[string]any{"ok": false, "error": "ratelimited"})
		}
		// Slack sends an HTML page with 5xx answers.
		return textReply(status, "<html><body>Slack is having trouble</body></html>")
	case strings.HasPrefix(path, "/services/"):
		if reason, ok := slackWebhookReasons[status]; ok {
			return textReply(status, reason)
		}
		return textReply(status, http.StatusText(status))
	case strings.HasPrefix(path, "/v1/"):
		typ := "api_error"
		if status == http.StatusTooManyRequests {
			typ = "invalid_request_error"
		}
		return jsonReply(status, map[string]any{"error": map[string]any{
			"message": http.StatusText(status), "type": typ, "code": codeFor(status),
		}})
	default: // GitHub
		msg := http.StatusText(status)
		if status == http.StatusForbidden || status == http.StatusTooManyRequests {
			msg = "API rate limit exceeded for user ID 1."
		}
		return jsonReply(status, map[string]any{
			"message": msg, "documentation_url": "https://docs.github.com/rest", "status": fmt.Sprint(status),
		})
	}
}

// slackWebhookReasons are the reasons Slack gives in the body of a failed
// incoming-webhook post, one for each status it documents
// (api.slack.com/messaging/webhooks#handling_errors), so a fault answers as
// Slack would; other statuses answer their status text.
var slackWebhookReasons = map[int]string{
	http.StatusBadRequest: "invalid_payload",
	http.StatusForbidden:  "action_prohibited",
	http.StatusNotFound:   "no_service",
	http.StatusGone:       "channel_is_archived",
}

func codeFor(status int) string {
	if status == http.StatusTooManyRequests {
		return "rate_limit"
	}
	return ""
}
