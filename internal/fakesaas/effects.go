package fakesaas

import (
	"net/http"
	"strings"
	"time"
)

// Request is one request the fake received. Credentials are left out:
// Authorization and Cookie headers, and a "token" query parameter.
type Request struct {
	Time   time.Time   `json:"time"`
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header"`
	// Fault is the mode of the fault applied to it, or empty.
	Fault string `json:"fault,omitempty"`
}

// credentialHeaders are never recorded.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

func (s *Server) record(r *http.Request, f *faultEntry) {
	h := r.Header.Clone()
	for _, k := range credentialHeaders {
		h.Del(k)
	}
	q := r.URL.Query()
	q.Del("token")
	req := Request{Time: s.cfg.now(), Method: r.Method, Path: r.URL.Path, Query: q.Encode(), Header: h}
	if f != nil {
		req.Fault = f.Mode.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Count returns how many requests had the method (empty: any) and a path
// starting with pathPrefix.
func (s *Server) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || strings.EqualFold(method, r.Method)) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}
