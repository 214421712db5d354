package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// peerLatency measures github-mcp-server (the peer the createTicket goal is
// set against: "0.50 ms against a local fake with no durable state") on
// this machine, in this run: its issue_write create against the same fake
// GitHub, with the same raw client, alternating rounds with saas-mcp's
// createTicket, so that the ratio of the two is not the noise of a shared
// machine. peer is the github-mcp-server binary (-peer).
func peerLatency(bin, peer string, env []string, fake *fakesaas.Server, n, rounds int) error {
	peerEnv := []string{"GITHUB_PERSONAL_ACCESS_TOKEN=" + fakesaas.GitHubToken}
	peerArgs := []string{"stdio", "--gh-host", fake.URL, "--toolsets", "issues"}
	createTicket := createTicketParams
	fast := fastEnv(env)
	var ours, oursFast, theirs, oursPing, theirsPing []time.Duration
	for r := 0; r < rounds; r++ {
		p50, ping, err := sequential(bin, env, nil, n, createTicket)
		if err != nil {
			return fmt.Errorf("saas-mcp: %w", err)
		}
		ours, oursPing = append(ours, p50), append(oursPing, ping)
		if p50, _, err = sequential(bin, fast, nil, n, createTicket); err != nil {
			return fmt.Errorf("saas-mcp: %w", err)
		}
		oursFast = append(oursFast, p50)
		before := fake.Count("POST", "/repos/bench/raw/issues")
		p50, ping, err = sequential(peer, peerEnv, peerArgs, n, func(title string) string {
			return `{"name":"issue_write","arguments":{"method":"create","owner":"bench","repo":"raw","title":"` + title + `"}}`
		})
		if err != nil {
			return fmt.Errorf("github-mcp-server: %w", err)
		}
		// Each of its calls reached the fake: the figure is a real create.
		if got := fake.Count("POST", "/repos/bench/raw/issues") - before; got != n+10 {
			return fmt.Errorf("github-mcp-server: %d creates reached the fake GitHub for %d calls", got, n+10)
		}
		theirs, theirsPing = append(theirs, p50), append(theirsPing, ping)
	}
	o, t := median(ours), median(theirs)
	fmt.Printf("create an issue, side by side (%d alternating rounds of %d sequential calls, raw JSON-RPC client, same fake GitHub):\n", rounds, n)
	fmt.Printf("  saas-mcp createTicket          p50 %.3f ms (ping %.3f ms; rounds %s)\n", ms(o), ms(median(oursPing)), list(ours))
	fmt.Printf("  the same, STORE_SYNC=NORMAL AUDIT_SYNC=never (not power-loss safe) p50 %.3f ms (rounds %s)\n", ms(median(oursFast)), list(oursFast))
	fmt.Printf("  github-mcp-server issue_write  p50 %.3f ms (ping %.3f ms; rounds %s)\n", ms(t), ms(median(theirsPing)), list(theirs))
	fmt.Printf("  ratio saas-mcp/github-mcp-server: %.2fx, with NORMAL %.2fx (the goal is no slower: <= 1.00x)\n",
		float64(o)/float64(t), float64(median(oursFast))/float64(t))
	return nil
}

// sequential starts bin with args (serve when none), makes n calls of
// params(title) and n pings, alternating, and returns both medians.
func sequential(bin string, env, args []string, n int, params func(title string) string) (p50, ping time.Duration, err error) {
	c, err := startRaw(bin, env, args...)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	var calls, pings []time.Duration
	for i := -10; i < n; i++ { // ten warm-up calls
		t0 := time.Now()
		b, err := c.roundTrip("tools/call", params(prefix+strconv.Itoa(i)))
		if err != nil {
			return 0, 0, err
		}
		d := time.Since(t0)
		var res struct {
			Result struct {
				IsError bool `json:"isError"`
			} `json:"result"`
		}
		if err := json.Unmarshal(b, &res); err != nil || res.Result.IsError {
			return 0, 0, fmt.Errorf("call failed: %.300s", b)
		}
		t0 = time.Now()
		if _, err := c.roundTrip("ping", `{}`); err != nil {
			return 0, 0, err
		}
		if i >= 0 {
			calls, pings = append(calls, d), append(pings, time.Since(t0))
		}
	}
	return median(calls), median(pings), nil
}

func list(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := ""
	for i, d := range s {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.3f", ms(d))
	}
	return out
}

// createTicketParams is a createTicket call's params with title.
func createTicketParams(title string) string {
	return `{"name":"createTicket","arguments":{"repo":"bench/raw","title":"` + title + `"}}`
}

// fastEnv is env with the claim and the audit log left to the OS (safe
// against a process crash, not a power loss): what is left of a call's
// time is the code's own.
func fastEnv(env []string) []string {
	return append(append([]string(nil), env...), "STORE_SYNC=NORMAL", "AUDIT_SYNC=never")
}
