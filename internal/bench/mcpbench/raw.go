package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// rawClient speaks newline-delimited JSON-RPC directly over the child's
// pipes: the thinnest possible client, so the figure is the server's.
type rawClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	id  int
}

func startRaw(bin string, env []string) (*rawClient, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &rawClient{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<16)}
	if _, err := c.roundTrip("initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench-raw","version":"1"}}`); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *rawClient) roundTrip(method, params string) ([]byte, error) {
	c.id++
	line := `{"jsonrpc":"2.0","id":` + strconv.Itoa(c.id) + `,"method":"` + method + `","params":` + params + "}\n"
	if _, err := io.WriteString(c.in, line); err != nil {
		return nil, err
	}
	for {
		b, err := c.out.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var head struct {
			ID    *int            `json:"id"`
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &head) == nil && head.ID != nil && *head.ID == c.id {
			if len(head.Error) > 0 {
				return nil, fmt.Errorf("%s: %s", method, head.Error)
			}
			return b, nil
		}
	}
}

// maxRSS is the peak resident set of a finished process, in MiB.
func maxRSS(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

func (c *rawClient) close() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.in.Close()
	_ = c.cmd.Wait()
}

// rawLatency measures createTicket with the raw client, beside ping (the
// protocol floor of this server and pipe) as baseline.
func rawLatency(bin string, env []string, n int) error {
	c, err := startRaw(bin, env)
	if err != nil {
		return err
	}
	call := func(title string) error {
		b, err := c.roundTrip("tools/call", `{"name":"createTicket","arguments":{"repo":"bench/raw","title":"`+title+`"}}`)
		if err != nil {
			return err
		}
		var r struct {
			Result struct {
				IsError bool `json:"isError"`
			} `json:"result"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Result.IsError {
			return fmt.Errorf("createTicket failed: %s", b)
		}
		return nil
	}
	for i := 0; i < 10; i++ {
		if err := call("warm-" + strconv.Itoa(i)); err != nil {
			return err
		}
	}
	var ticket, ping []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := call("raw-" + strconv.Itoa(i)); err != nil {
			return err
		}
		ticket = append(ticket, time.Since(t0))
		t0 = time.Now()
		if _, err := c.roundTrip("ping", `{}`); err != nil {
			return err
		}
		ping = append(ping, time.Since(t0))
	}
	sort.Slice(ticket, func(i, j int) bool { return ticket[i] < ticket[j] })
	p50 := pct(ticket, 50)
	fmt.Printf("createTicket, raw JSON-RPC client: p50 %.3f ms, p99 %.3f ms over %d sequential calls (baseline ping p50 %.3f ms; ratio %.2f), goal p50 <= 0.5 ms\n",
		ms(p50), ms(pct(ticket, 99)), n, ms(median(ping)), float64(p50)/float64(median(ping)))
	c.close()
	base := exec.Command(bin, "version")
	if err := base.Run(); err != nil {
		return err
	}
	serveRSS, baseRSS := maxRSS(c.cmd), maxRSS(base)
	fmt.Printf("peak RSS (rusage maxrss) of serve over %d calls: %.1f MiB (baseline `saas-mcp version`, same binary doing nothing: %.1f MiB; ratio %.2f), goal < 20 MiB\n",
		n+10, serveRSS, baseRSS, serveRSS/baseRSS)
	return nil
}
