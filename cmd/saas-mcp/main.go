// Command saas-mcp is an MCP server that lets AI agents act on Slack, GitHub
// and Stripe safely (audited, validated, idempotent), and a durable webhook
// receiver for the same providers.
//
// This package only wires things together: subcommands, configuration,
// signals. The behaviour lives in internal/ and tools/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `saas-mcp: a safe MCP server for Slack, GitHub and Stripe, and a durable webhook receiver.

Usage:
  saas-mcp <command> [arguments]

Commands:
  serve       run the MCP server on stdio (what Claude Code and other MCP clients start)
  webhooks    receive GitHub, Stripe and Slack webhooks durably (and run the worker);
              "webhooks dead" lists dead letters, "webhooks replay <id>|--all-dead" runs them again
  worker      run only the webhook worker (for separate worker processes)
  doctor      show idempotency keys in doubt and check the local state
  version     print the version

Run "saas-mcp <command> --help" for a command's variables and flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// SAAS_MCP_CPUPROFILE writes a CPU profile, for `make bench` investigations.
	if path := os.Getenv("SAAS_MCP_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
		}
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go exitOnSecondSignal(signals)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	stop()
	os.Exit(code)
}

// exitOnSecondSignal ends the process at a second SIGINT or SIGTERM after
// the first has begun the graceful stop (an operator's second Ctrl-C), as
// that stop may wait out WEBHOOK_DRAIN_DELAY and the job drain (found in
// review: only kill -9 ended it). Exit status 130, as a shell reports an
// interrupted command; what was accepted is durable and its jobs rescued.
//
// signals is registered before run starts, so that two signals sent back to
// back are both counted (found in review: the second was dropped when it
// came before the watch began).
func exitOnSecondSignal(signals <-chan os.Signal) {
	<-signals
	<-signals
	fmt.Fprintln(os.Stderr, "saas-mcp: second signal: stopping now, without waiting for the drain")
	os.Exit(130)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdin, stdout, stderr)
	case "webhooks":
		return runWebhooks(ctx, rest, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, rest, stdout, stderr)
	case "version", "--version":
		if wantsHelp(rest) {
			fmt.Fprintln(stdout, "saas-mcp version: print the version and exit. It takes no arguments and reads no variables.")
			return 0
		}
		if code, ok := noArgs(cmd, rest, stderr); !ok {
			return code
		}
		fmt.Fprintln(stdout, "saas-mcp", version)
		return 0
	case "help", "-h", "--help":
		if len(rest) > 0 && rest[0] != "help" { // "saas-mcp help serve" is "saas-mcp serve --help"
			return run(ctx, []string{rest[0], "--help"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "saas-mcp: unknown command %q\n\n%s", echoArg(cmd), usage)
		return 2
	}
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" || a == "help" {
			return true
		}
	}
	return false
}

// noArgs refuses flags or arguments a command does not take (a typo such as
// --jsno must not be ignored silently) and reports the exit code.
func noArgs(cmd string, args []string, stderr io.Writer) (int, bool) {
	if len(args) == 0 {
		return 0, true
	}
	fmt.Fprintf(stderr, "saas-mcp %s: unknown argument %q (see saas-mcp %s --help)\n", cmd, echoArg(args[0]), cmd)
	return 2, false
}
