// Command mcpbench prints saas-mcp's MCP figures, measured over stdio with the
// official Go SDK client against the local fake providers: start to first
// response, createTicket p50/p99 over sequential calls, peak RSS and the size
// of tools/list. Each figure is printed beside a baseline measured in the
// same run, because these machines are shared and noisy.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// Investigation switches (see main).
var (
	rawProfile     string
	rawOnly        bool
	concurrentOnly bool
	peerBin        string
	baseBin        string
)

func main() {
	bin := flag.String("bin", "bin/saas-mcp", "saas-mcp binary")
	calls := flag.Int("calls", 200, "sequential createTicket calls")
	starts := flag.Int("starts", 30, "process starts for the start-up figure")
	flag.StringVar(&rawProfile, "rawprofile", "", "write a CPU profile of the raw-client serve run only (SAAS_MCP_CPUPROFILE) to this file")
	flag.BoolVar(&rawOnly, "rawonly", false, "measure only the raw-client createTicket latency and RSS")
	flag.BoolVar(&concurrentOnly, "concurrentonly", false, "measure only the sendMessage throughput one at a time and with calls in flight")
	flag.StringVar(&baseBin, "base", "", "another saas-mcp build (from another commit): measure only createTicket through it and through -bin, alternating, and print the ratio")
	flag.StringVar(&peerBin, "peer", "", "a github-mcp-server binary: also measure its issue_write create against the same fake, alternating with createTicket")
	flag.Parse()
	if err := run(*bin, *calls, *starts); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

func run(bin string, calls, starts int) error {
	// GitHub's endpoints are also under /api/v3, where github-mcp-server
	// (-peer) looks for them on a host of its own.
	fake := fakesaas.New(fakesaas.WithGitHubPathPrefix("/api/v3"))
	defer fake.Close()
	dir, err := os.MkdirTemp("", "mcpbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AUDIT_LOG_PATH=" + filepath.Join(dir, "audit.ndjson"),
		"DATA_DIR=" + filepath.Join(dir, "data"),
		"GITHUB_API_URL=" + fake.GitHubAPIURL(),
		"SLACK_API_URL=" + fake.SlackAPIURL(),
		"STRIPE_API_URL=" + fake.StripeAPIURL(),
		"GITHUB_TOKEN=" + fakesaas.GitHubToken,
		// GitHub asks for 1 s between writes; the pacing is deliberate waiting,
		// not work, so it is off for the latency figure.
		"GITHUB_WRITE_INTERVAL=0",
	}
	env = append(env, extraEnv()...)
	if concurrentOnly && baseBin != "" {
		return fmt.Errorf("-base and -concurrentonly: choose one")
	}
	if concurrentOnly {
		return concurrentCalls(bin, env, 500)
	}
	if baseBin != "" {
		return baseLatency(bin, baseBin, env, calls, 7)
	}

	fmt.Println("== saas-mcp MCP figures (stdio, official Go SDK client, local fakes)")
	if !rawOnly {
		if err := startup(bin, env, starts); err != nil {
			return err
		}
	}
	rawEnv := env
	if rawProfile != "" {
		rawEnv = append(append([]string(nil), env...), "SAAS_MCP_CPUPROFILE="+rawProfile)
	}
	if err := rawLatency(bin, rawEnv, calls); err != nil {
		return err
	}
	// What durability costs, in the same run: the same calls with the claim
	// and the audit log left to the OS (safe against a process crash, not a
	// power loss), and one durable write on this disk.
	fast := append(append([]string(nil), env...), "STORE_SYNC=NORMAL", "AUDIT_SYNC=never")
	if _, err := rawRun(bin, fast, calls, " with STORE_SYNC=NORMAL AUDIT_SYNC=never (not power-loss safe)", false); err != nil {
		return err
	}
	floor, err := fsyncFloor(dir, 200)
	if err != nil {
		return err
	}
	fmt.Printf("  one durable write on this disk (4 KiB append + fdatasync, p50 of 200): %.3f ms; every call waits for one, the claim's\n", ms(floor))
	if err := concurrentCalls(bin, env, 500); err != nil {
		return err
	}
	if peerBin != "" {
		if err := peerLatency(bin, peerBin, env, fake, calls, 5); err != nil {
			return err
		}
	}
	if rawOnly {
		return nil
	}
	return latency(bin, env, fake, calls)
}

// extraEnv passes BENCH_* variables through without the prefix, e.g.
// BENCH_STORE_SYNC=NORMAL, to compare settings.
func extraEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BENCH_") {
			out = append(out, strings.TrimPrefix(kv, "BENCH_"))
		}
	}
	return out
}

const initLine = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}` + "\n"

// startup times exec to the first byte of the initialize answer, against the
// same binary's `version` (process start and exit, no server) as baseline.
func startup(bin string, env []string, n int) error {
	var serve, base []time.Duration
	for i := 0; i < n; i++ {
		d, err := firstResponse(bin, env)
		if err != nil {
			return err
		}
		serve = append(serve, d)
		t0 := time.Now()
		if err := exec.Command(bin, "version").Run(); err != nil {
			return err
		}
		base = append(base, time.Since(t0))
	}
	s, b := median(serve), median(base)
	fmt.Printf("start to first response: median %.2f ms over %d starts (baseline `saas-mcp version` start+exit %.2f ms; ratio %.2f) goal < 15 ms\n",
		ms(s), n, ms(b), float64(s)/float64(b))
	return nil
}

func firstResponse(bin string, env []string) (time.Duration, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(stdin, initLine); err != nil {
		return 0, err
	}
	buf := make([]byte, 1)
	if _, err := stdout.Read(buf); err != nil {
		return 0, fmt.Errorf("read first response: %w", err)
	}
	d := time.Since(t0)
	_ = stdin.Close()
	_ = cmd.Wait()
	return d, nil
}

// latency measures createTicket end to end, a protocol-only baseline
// (tools/list round trip) and a direct HTTP POST to the fake (the provider
// share), then peak RSS and the tools/list size.
func latency(bin string, env []string, fake *fakesaas.Server, n int) error {
	ctx := context.Background()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	s, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return err
	}
	defer s.Close()

	// Warm up: connections, prepared statements, page cache.
	for i := 0; i < 10; i++ {
		if _, err := callTicket(ctx, s, "warm-"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	var ticket, list, direct []time.Duration
	listBytes := 0
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := callTicket(ctx, s, "bench-"+strconv.Itoa(i)); err != nil {
			return err
		}
		ticket = append(ticket, time.Since(t0))

		t0 = time.Now()
		lt, err := s.ListTools(ctx, nil)
		if err != nil {
			return err
		}
		list = append(list, time.Since(t0))
		if listBytes == 0 {
			raw, _ := json.Marshal(lt)
			listBytes = len(raw)
		}

		t0 = time.Now()
		if err := postDirect(fake, i); err != nil {
			return err
		}
		direct = append(direct, time.Since(t0))
	}
	sort.Slice(ticket, func(i, j int) bool { return ticket[i] < ticket[j] })
	p50, p99 := pct(ticket, 50), pct(ticket, 99)
	fmt.Printf("createTicket end to end: p50 %.3f ms, p99 %.3f ms over %d sequential calls, goal p50 <= 0.5 ms\n", ms(p50), ms(p99), n)
	fmt.Printf("  baselines in this run: tools/list round trip p50 %.3f ms (protocol only; ratio %.2f), direct HTTP POST to the fake p50 %.3f ms (provider only)\n",
		ms(median(list)), float64(p50)/float64(median(list)), ms(median(direct)))
	fmt.Printf("tools/list result: %d bytes, goal < 8192\n", listBytes)
	if pid := cmd.Process.Pid; pid > 0 {
		fmt.Printf("peak RSS (VmHWM) of serve after %d calls: %s, goal < 20 MiB\n", n+10, vmHWM(pid))
	}
	return nil
}

func callTicket(ctx context.Context, s *mcp.ClientSession, title string) (*mcp.CallToolResult, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "createTicket", Arguments: map[string]any{"repo": "bench/app", "title": title}})
	if err != nil {
		return nil, err
	}
	if res.IsError {
		raw, _ := json.Marshal(res.Content)
		return nil, fmt.Errorf("createTicket failed: %s", raw)
	}
	return res, nil
}

var httpClient = &http.Client{}

func postDirect(fake *fakesaas.Server, i int) error {
	body := strings.NewReader(fmt.Sprintf(`{"title":"direct-%d"}`, i))
	req, _ := http.NewRequest("POST", fake.GitHubAPIURL()+"repos/bench/direct/issues", body)
	req.Header.Set("Authorization", "Bearer "+fakesaas.GitHubToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// vmHWM is the peak resident set of a running process, with what it holds
// now split into the binary's and libraries' file pages and anonymous memory.
func vmHWM(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	kb := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			kb[strings.TrimSuffix(f[0], ":")], _ = strconv.Atoi(f[1])
		}
	}
	if _, ok := kb["VmHWM"]; !ok {
		return "unknown"
	}
	mib := func(k string) float64 { return float64(kb[k]) / 1024 }
	return fmt.Sprintf("%.1f MiB [now: file-backed %.1f, anonymous %.1f]", mib("VmHWM"), mib("RssFile"), mib("RssAnon"))
}

func median(d []time.Duration) time.Duration {
	c := append([]time.Duration(nil), d...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return pct(c, 50)
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
