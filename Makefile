# saas-mcp developer targets. `make help` lists them.
GO      ?= go
BIN     := bin/saas-mcp
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: help build run test test-short bench bench-base lint fuzz

help: ## list targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/saas-mcp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/saas-mcp

run: ## build, then start the MCP server on stdio, as Claude Code would (embedded defaults, no credentials needed)
	@$(MAKE) --no-print-directory -s build >&2
	@exec ./$(BIN) serve

test: ## run every test with the race detector (fuzz seed corpora included)
	$(GO) test -race -count=1 -timeout 25m ./...

test-short: ## quick tests without the slow end-to-end and load suites
	$(GO) test -race -count=1 -short ./...

bench: build ## print the performance figures (start-up, createTicket latency, RSS, tools/list size, webhook throughput); PEER_GITHUB_MCP=<github-mcp-server binary> adds it side by side
	$(GO) run ./internal/bench/mcpbench -bin ./$(BIN) $(if $(PEER_GITHUB_MCP),-peer $(PEER_GITHUB_MCP))
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./internal/httpx/ ./internal/store/sqlite/ ./internal/redact/ ./internal/audit/
	@if [ -x scripts/bench-webhooks.sh ]; then BIN=$(CURDIR)/$(BIN) scripts/bench-webhooks.sh && BIN=$(CURDIR)/$(BIN) WORKER_FLAG=--no-worker ROUNDS=3 scripts/bench-webhooks.sh && BIN=$(CURDIR)/$(BIN) WORKER_FLAG=--no-worker ROUNDS=2 IDS=random scripts/bench-webhooks.sh; fi

bench-base: build ## createTicket through this build and BASE=<another saas-mcp binary>, 7 alternating rounds, and the ratio (judge a change)
	@test -n "$(BASE)" || (echo "make bench-base BASE=<saas-mcp binary built from another commit>" && exit 2)
	$(GO) run ./internal/bench/mcpbench -bin ./$(BIN) -base $(BASE) -calls 300

lint: ## gofmt, go vet and a tidy go.mod
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
	$(GO) mod tidy -diff

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for t in $$(grep -rl 'func Fuzz' --include=*_test.go . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho 'func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | cut -d' ' -f2); do \
	    echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$t || exit 1; \
	  done; done
