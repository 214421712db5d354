package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// serveInFlight is how many tool calls serve runs at once (its stdio
// transport's workers).
const serveInFlight = 5

// concurrentCalls measures sendMessage throughput with one call in flight
// and with serveInFlight in flight (an agent calling tools in parallel),
// each call to its own channel (Slack's pace is per channel), with the
// defaults and with STORE_SYNC=NORMAL as the ceiling: claims committed
// while another claim's sync runs share the next one (group commit).
func concurrentCalls(bin string, env []string, n int) error {
	env = append(append([]string(nil), env...), "SLACK_BOT_TOKEN="+fakesaas.SlackToken)
	fast := append(append([]string(nil), env...), "STORE_SYNC=NORMAL", "AUDIT_SYNC=never")
	rate := func(e []string, inFlight int) (float64, error) { return pipelined(bin, e, n, inFlight) }
	var seq, par, parNormal float64
	var err error
	if seq, err = rate(env, 1); err != nil {
		return err
	}
	if par, err = rate(env, serveInFlight); err != nil {
		return err
	}
	if parNormal, err = rate(fast, serveInFlight); err != nil {
		return err
	}
	fmt.Printf("sendMessage, %d calls each to its own channel, raw JSON-RPC client: %.0f calls/s one at a time; %.0f calls/s with %d in flight (%.2fx; their claims share fsyncs); %d in flight with STORE_SYNC=NORMAL AUDIT_SYNC=never (no fsync to share) %.0f calls/s\n",
		n, seq, par, serveInFlight, par/seq, serveInFlight, parNormal)
	return nil
}

// pipelined sends n sendMessage calls keeping inFlight of them outstanding
// and returns the calls per second.
func pipelined(bin string, env []string, n, inFlight int) (float64, error) {
	c, err := startRaw(bin, env)
	if err != nil {
		return 0, err
	}
	defer c.close()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	send := func(i int) error {
		line := `{"jsonrpc":"2.0","id":` + strconv.Itoa(1000+i) + `,"method":"tools/call","params":{"name":"sendMessage","arguments":{"channel":"C` +
			prefix + strconv.Itoa(i) + `","text":"bench ` + strconv.Itoa(i) + `"}}}` + "\n"
		_, err := io.WriteString(c.in, line)
		return err
	}
	recv := func() error {
		for {
			b, err := c.out.ReadBytes('\n')
			if err != nil {
				return err
			}
			var r struct {
				ID     *int `json:"id"`
				Result struct {
					IsError bool `json:"isError"`
				} `json:"result"`
			}
			if json.Unmarshal(b, &r) != nil || r.ID == nil {
				continue // a notification
			}
			if r.Result.IsError {
				return fmt.Errorf("sendMessage failed: %s", b)
			}
			return nil
		}
	}
	t0 := time.Now()
	sent := 0
	for ; sent < inFlight && sent < n; sent++ {
		if err := send(sent); err != nil {
			return 0, err
		}
	}
	for done := 0; done < n; done++ {
		if err := recv(); err != nil {
			return 0, err
		}
		if sent < n {
			if err := send(sent); err != nil {
				return 0, err
			}
			sent++
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}
