package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
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

func startRaw(bin string, env []string, args ...string) (*rawClient, error) {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd := exec.Command(bin, args...)
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
	_, err := rawRun(bin, env, n, "", true)
	return err
}

// rawRun runs n createTicket calls with the raw client and prints their
// latency (label names a non-default setting); withRSS adds the RSS line.
func rawRun(bin string, env []string, n int, label string, withRSS bool) (time.Duration, error) {
	c, err := startRaw(bin, env)
	if err != nil {
		return 0, err
	}
	// Distinct titles per run, so no run replays another's calls.
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	call := func(title string) error {
		b, err := c.roundTrip("tools/call", `{"name":"createTicket","arguments":{"repo":"bench/raw","title":"`+prefix+title+`"}}`)
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
	// VmHWM of the serve process itself, read from /proc while it runs.
	// (rusage maxrss of a child is not usable here: Go starts children with
	// a vfork-style clone, so the child's figure includes this bench's own
	// peak from before exec.)
	idleRSS := vmHWM(c.cmd.Process.Pid)
	for i := 0; i < 10; i++ {
		if err := call("warm-" + strconv.Itoa(i)); err != nil {
			return 0, err
		}
	}
	var ticket, ping []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := call("raw-" + strconv.Itoa(i)); err != nil {
			return 0, err
		}
		ticket = append(ticket, time.Since(t0))
		t0 = time.Now()
		if _, err := c.roundTrip("ping", `{}`); err != nil {
			return 0, err
		}
		ping = append(ping, time.Since(t0))
	}
	sort.Slice(ticket, func(i, j int) bool { return ticket[i] < ticket[j] })
	p50 := pct(ticket, 50)
	fmt.Printf("createTicket%s, raw JSON-RPC client: p50 %.3f ms, p99 %.3f ms over %d sequential calls (baseline ping p50 %.3f ms; ratio %.2f), goal p50 <= 0.5 ms\n",
		label, ms(p50), ms(pct(ticket, 99)), n, ms(median(ping)), float64(p50)/float64(median(ping)))
	peakRSS := vmHWM(c.cmd.Process.Pid)
	c.close()
	if !withRSS {
		return p50, nil
	}
	fmt.Printf("peak RSS (VmHWM) of serve over %d calls: %s (baseline: the same process after initialize, before any call: %s), goal < 20 MiB\n",
		n+10, peakRSS, idleRSS)
	return p50, nil
}

// fsyncFloor is what one durable write costs on the disk under DATA_DIR, the
// floor of a call that must put its claim on disk before sending: the p50 of
// appending 4 KiB and fdatasync-ing it, with a pause between writes as
// between tool calls.
func fsyncFloor(dir string, n int) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-floor-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	block := make([]byte, 4096)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		time.Sleep(500 * time.Microsecond)
		t0 := time.Now()
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	return median(ds), nil
}
