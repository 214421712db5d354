#!/usr/bin/env bash
# Webhook receiver throughput, side by side with the reference Node receiver
# (../shared/reference/seed-webhook-receiver.mjs, which verifies and logs but
# stores nothing), driven by the reference wrk script (a new delivery id per
# request). Runs alternate A B A B on one machine and the ratio of medians is
# quoted, since a shared machine's absolute numbers drift.
#
# Env: ROUNDS (3), DURATION (10s), CONNS ("16 64"), BIN (built if unset),
#      REF (reference dir), WORKER_FLAG ("" or "--no-worker"),
#      BASE_BIN (optional: an earlier build, run as "before" in the same
#      alternation, so a change is judged against the same noise),
#      IDS ("" or "random": delivery ids with a random prefix, as GitHub's
#      GUIDs are, instead of the reference script's time-and-counter ids,
#      which land at the end of the key index; both receivers get the same).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${REF:-$ROOT/../shared/reference}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16 64}
WORKER_FLAG=${WORKER_FLAG:-}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk && [ "$(id -u)" = 0 ] && need apt-get; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || true
fi
for t in wrk node; do
  if ! need "$t"; then echo "bench-webhooks: $t not found; skipping"; exit 0; fi
done
if [ ! -f "$REF/seed-webhook-receiver.mjs" ]; then echo "bench-webhooks: no reference receiver in $REF; skipping"; exit 0; fi

WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

if [ "${IDS:-}" = random ]; then
  # The reference script with its id made of a random prefix and the
  # thread and counter (unique), in a copy beside its payload.
  mkdir -p "$WORK/ref"
  cp "$REF/issues-payload.json" "$WORK/ref/"
  # os.time() keeps ids of later rounds apart from earlier ones (each wrk
  # run starts its counters, and its generator unless seeded, again).
  sed -e 's/^  local id = .*/  local id = string.format("%08x%04x-%x-%d-%d", math.random(0, 0x7fffffff), math.random(0, 0xffff), os.time(), tid or 0, counter)/' \
      -e '$a init = function(args) math.randomseed(os.time() * 7919 + (tid or 0)) end' \
    "$REF/signed-github-issues.lua" >"$WORK/ref/signed-github-issues.lua"
  grep -q 'math.random(0, 0x7fffffff)' "$WORK/ref/signed-github-issues.lua" || { echo "bench-webhooks: IDS=random: the reference script changed" >&2; exit 1; }
  LUA_DIR=$WORK/ref
else
  LUA_DIR=$REF
fi

if [ -z "${BIN:-}" ]; then
  BIN=$WORK/saas-mcp
  (cd "$ROOT" && go build -trimpath -o "$BIN" ./cmd/saas-mcp)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

NODE_PORT=$(free_port)
(cd "$REF" && PORT=$NODE_PORT GITHUB_WEBHOOK_SECRET=bench-secret exec node seed-webhook-receiver.mjs >/dev/null) &
pids+=($!)
GO_PORT=$(free_port)
DATA_DIR=$WORK/data AUDIT_LOG_PATH=$WORK/logs/audit.ndjson GITHUB_WEBHOOK_SECRET=bench-secret \
  WEBHOOK_ADDR=127.0.0.1:$GO_PORT "$BIN" webhooks $WORKER_FLAG 2>"$WORK/saas-mcp.log" &
pids+=($!)
if [ -n "${BASE_BIN:-}" ]; then
  BASE_PORT=$(free_port)
  DATA_DIR=$WORK/base-data AUDIT_LOG_PATH=$WORK/base-logs/audit.ndjson GITHUB_WEBHOOK_SECRET=bench-secret \
    WEBHOOK_ADDR=127.0.0.1:$BASE_PORT "$BASE_BIN" webhooks $WORKER_FLAG 2>"$WORK/before.log" &
  pids+=($!)
  wait_port "$BASE_PORT"
fi
wait_port "$NODE_PORT"
wait_port "$GO_PORT"

run() { # name port conns
  local line
  # Write back what earlier runs left dirty first (each 8 s run writes
  # hundreds of MB), so that no receiver's fsyncs queue behind another's.
  sync
  line=$(cd "$LUA_DIR" && WEBHOOK_PATH=/webhooks/github wrk -t2 -c"$3" -d"$DURATION" --latency -s signed-github-issues.lua "http://127.0.0.1:$2" | grep '^JSON ' | cut -c6-)
  echo "$1 $3 $line" >>"$WORK/results"
  printf '  %-8s c=%-3s %s\n' "$1" "$3" "$line"
}

# With the in-process worker, wait until it has drained what earlier rounds
# queued before each run: its draining would otherwise share the cores with
# the next run, the reference receiver's included.
drained() { # data dir
  [ -n "$WORKER_FLAG" ] && return 0
  python3 - "$1/webhooks.db" <<'PY'
import sqlite3, sys, time
deadline = time.time() + 300
while time.time() < deadline:
    try:
        c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)
        n = c.execute("SELECT count(*) FROM webhook_delivery WHERE state = 'pending'").fetchone()[0]
        c.close()
    except sqlite3.Error:
        n = 1
    if n == 0:
        sys.exit(0)
    time.sleep(0.2)
print("bench-webhooks: the worker did not drain in 300 s", file=sys.stderr)
PY
}
settle() { drained "$WORK/data"; if [ -n "${BASE_BIN:-}" ]; then drained "$WORK/base-data"; fi; }

echo "webhook receivers, $ROUNDS rounds of $DURATION, alternating (saas-mcp ${WORKER_FLAG:-with its in-process worker, drained before each run})${IDS:+, $IDS delivery ids}"
for c in $CONNS; do
  for r in $(seq 1 "$ROUNDS"); do
    settle
    run node "$NODE_PORT" "$c"
    if [ -n "${BASE_BIN:-}" ]; then settle; run before "$BASE_PORT" "$c"; fi
    settle
    run saas-mcp "$GO_PORT" "$c"
  done
done

python3 - "$WORK/results" "$WORK/data/webhooks.db" <<'PY'
import json, sqlite3, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, conns, js = line.split(" ", 2)
    r = json.loads(js)
    # Only 2xx answers count as throughput: a receiver refusing everything
    # must not look fast.
    failed = r["non2xx"] + r["errors_connect"] + r["errors_timeout"]
    r["ok_rps"] = r["rps"] * max(r["requests"] - r["non2xx"], 0) / r["requests"] if r["requests"] else 0.0
    r["failed"] = failed
    rows.setdefault((name, int(conns)), []).append(r)
print("\nmedians              2xx/s       p50 ms   p99 ms   non-2xx or errors")
invalid = False
for c in sorted({k[1] for k in rows}):
    med = {}
    for name in ("node", "before", "saas-mcp"):
        rs = rows.get((name, c), [])
        if not rs:
            continue
        med[name] = {k: statistics.median(r[k] for r in rs) for k in ("ok_rps", "p50_ms", "p99_ms")}
        med[name]["failed"] = sum(r["failed"] for r in rs)
        m = med[name]
        invalid = invalid or m["failed"] > 0
        print(f"  {name:<8} c={c:<4} {m['ok_rps']:>10.0f} {m['p50_ms']:>9.2f} {m['p99_ms']:>8.2f} {m['failed']:>9.0f}")
    for name in ("before", "saas-mcp"):
        if name in med and "node" in med:
            print(f"  ratio {name}/node at c={c}: {med[name]['ok_rps'] / med['node']['ok_rps']:.2f}x 2xx/s")
# Every 2xx saas-mcp gave must have its row: each request carries a new
# delivery id, so the rows stored are at least the 2xx answers (requests
# still in flight when wrk stopped may be stored without being counted).
answered = sum(r["requests"] - r["non2xx"] for (name, _), rs in rows.items() if name == "saas-mcp" for r in rs)
stored = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True).execute("SELECT count(*) FROM webhook_delivery").fetchone()[0]
print(f"saas-mcp: {stored} deliveries stored for {answered} 2xx answers", "(ok)" if stored >= answered else "(MISSING DELIVERIES)")
if invalid:
    print("INVALID RUN: some requests were refused or failed; the ratios above count 2xx answers only")
sys.exit(0 if stored >= answered else 1)
PY
echo "(Each 2xx was answered after its record's fdatasync: by design, shown by the crash tests in make test, not measured here.)"
# What the in-process worker got through meanwhile (it defers to the
# receiver while deliveries are coming in, so the backlog is drained after).
if [ -z "$WORKER_FLAG" ]; then
  python3 - "$WORK/data/webhooks.db" <<'PY'
import sqlite3, sys
db = sys.argv[1]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
by = dict(c.execute("SELECT state, count(*) FROM webhook_delivery GROUP BY state").fetchall())
total = sum(by.values())
print(f"saas-mcp worker: {by.get('processed', 0)} of {total} deliveries processed when the last round ended, "
      f"{by.get('pending', 0)} still queued (it defers to the receiver while deliveries come in, and drains after)")
# How fast it drains that queue with no load: pending count 3 s apart.
import time
def pending():
    return c.execute("SELECT count(*) FROM webhook_delivery WHERE state = 'pending'").fetchone()[0]
a, t0 = pending(), time.time()
if a > 0:
    time.sleep(3)
    b, t1 = pending(), time.time()
    print(f"saas-mcp worker drain rate with no load: {(a - b) / (t1 - t0):.0f} deliveries/s ({a - b} in {t1 - t0:.1f} s)")
PY
fi
