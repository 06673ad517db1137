#!/usr/bin/env bash
# HTTP load benchmark: `insights serve` on a fresh local store; 8 wrk connections post
# 1,000-event NDJSON batches for 30 s while 2 more wrk connections send DI event queries
# (failed logins of one user over a day, newest first, limit 100). Prints the ingest rate, the
# query latency percentiles, and the server's peak RSS.
# Needs wrk (apt-get install wrk; the script installs it when it can).
# Usage: scripts/bench-http.sh [SECONDS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
work=${2:-$(mktemp -d)}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release --locked --bin insights
bin=${CARGO_TARGET_DIR:-target}/release/insights
store="$work/http-store"
rm -rf "$store" "$work/batches"
mkdir -p "$work/batches"
# 64 batches of 1,000 events; each post prefixes the ids with its thread and request number,
# so that every posted event is new.
"$bin" generate --events 64000 --days 2 --seed 7 --out "$work/batches/all.ndjson"
split -l 1000 -d -a 2 "$work/batches/all.ndjson" "$work/batches/b"
org=$(head -1 "$work/batches/all.ndjson" | sed 's/.*"organization":"\([^"]*\)".*/\1/')
ingest_key=$("$bin" keys --store "$store" create --org '*' --role ingest 2>/dev/null)
read_key=$("$bin" keys --store "$store" create --org "$org" --role read 2>/dev/null)
/usr/bin/time -f '%M' -o "$work/serve-rss.txt" "$bin" serve --store "$store" --listen 127.0.0.1:18181 >"$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
cat >"$work/ingest.lua" <<LUA
local bodies = {}
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  for i = 0, 63 do
    local f = io.open(string.format("$work/batches/b%02d", i), "rb")
    bodies[i] = f:read("*a")
    f:close()
  end
end
function request()
  n = n + 1
  local body = string.gsub(bodies[n % 64], '"id":"', '"id":"' .. tid .. "-" .. n .. "-")
  return wrk.format("POST", "/api/v1/ingest", {["x-api-key"] = "$ingest_key", ["x-org-id"] = "$org", ["content-type"] = "application/x-ndjson"}, body)
end
LUA
cat >"$work/query.lua" <<LUA
wrk.method = "POST"
wrk.headers["x-api-key"] = "$read_key"
wrk.body = '{"service":["all"],"start_time":"2026-10-01T00:00:00Z","end_time":"2026-10-02T00:00:00Z","sort":"DESC","limit":100,"search_term":{"and":[{"success":false}]}}'
LUA
wrk -t 2 -c 2 -d "${seconds}s" --latency -s "$work/query.lua" http://127.0.0.1:18181/insights/directory/v1/events >"$work/query.txt" &
query=$!
wrk -t 2 -c 8 -d "${seconds}s" --latency -s "$work/ingest.lua" http://127.0.0.1:18181 >"$work/ingest.txt"
wait $query
sleep 3
ingested=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_ingested_total/ {print $2}')
duplicates=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_duplicate_total/ {print $2}')
kill -TERM $serve
wait $serve || true
echo "== ingest (8 connections, 1,000-event batches)"
cat "$work/ingest.txt"
awk -v s="$seconds" -v i="$ingested" -v d="$duplicates" 'BEGIN {
  printf "events posted and answered: %.0f/s (stored %d, duplicates %d)\n", (i + d) / s, i, d }'
echo "== DI queries alongside (2 connections)"
cat "$work/query.txt"
echo "server peak RSS: $(( $(tail -1 "$work/serve-rss.txt") / 1024 )) MiB"
