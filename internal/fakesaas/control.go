package fakesaas

import (
	"encoding/json"
	"io"
	"net/http"
)

// ControlPrefix is where the control endpoints live when WithControl is set:
//
//	POST   /_fakesaas/faults         a Fault as JSON (delay in nanoseconds, mode by name)
//	DELETE /_fakesaas/faults         clear faults
//	POST   /_fakesaas/stripe/events  a raw Stripe event to serve
//	GET    /_fakesaas/effects        {"slack_messages", "github_issues", "requests"}
//
// They are not recorded as requests and need no credentials: the fake only
// ever listens where its owner put it.
const ControlPrefix = "/_fakesaas/"

func (s *Server) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+ControlPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&f); err != nil {
			http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+ControlPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+ControlPrefix+"stripe/events", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err == nil {
			err = s.AddStripeEventJSON(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+ControlPrefix+"effects", func(w http.ResponseWriter, r *http.Request) {
		jsonReply(http.StatusOK, map[string]any{
			"slack_messages": s.SlackMessages(""),
			"github_issues":  s.GitHubIssues(""),
			"requests":       s.Requests(),
		}).write(w)
	})
}
