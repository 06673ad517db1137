#!/usr/bin/env bash
# HTTP load benchmark: `insights serve` on a fresh local store; 8 wrk connections post
# 1,000-event NDJSON batches while 2 more wrk connections send DI event queries (failed logins
# over a day, newest first, limit 100). Prints the ingest rate, the query latency percentiles,
# the CPU the server and the load generator used, and the server's peak RSS.
#
# Every posted batch is distinct (no duplicates): the events are generated up front and cut
# into 1,000-event files that the wrk threads load at start, so the load generator spends its
# CPU sending, not rewriting bodies (rewriting each body in Lua took a whole core of this
# two-core machine and capped the rate it could offer).
# Needs wrk (apt-get install wrk; the script installs it when it can).
# Each query connection waits QUERY_DELAY_MS (default 100) after an answer before it asks
# again, as pollers and people do; QUERY_DELAY_MS=0 sends queries back to back, as fast as
# the server answers them (a closed loop that takes as much CPU as it is given). SERVE_ARGS
# are added to `insights serve` (e.g. SERVE_ARGS="--ingest-nice 0").
# Usage: scripts/bench-http.sh [SECONDS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
query_delay_ms=${QUERY_DELAY_MS:-100}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
# INSIGHTS_BIN=path runs another build (to compare two side by side) instead of building this one.
if [ -z "${INSIGHTS_BIN:-}" ]; then
  cargo build --release --locked --bin insights
fi
bin=${INSIGHTS_BIN:-${CARGO_TARGET_DIR:-target}/release/insights}
store="$work/http-store"
# Enough distinct batches for 180,000 events/s over the whole wrk run, so that the rate counts
# new events only (a duplicate is cheaper to take than a new event).
batches=$(((seconds + 5) * 180))
rm -rf "$store" "$work/batches"
mkdir -p "$work/batches"
"$bin" generate --events $((batches * 1000)) --days 2 --seed 7 --start 2026-10-01 --out "$work/batches/all.ndjson"
split -l 1000 -d -a 5 "$work/batches/all.ndjson" "$work/batches/b"
org=$(head -1 "$work/batches/all.ndjson" | sed 's/.*"organization":"\([^"]*\)".*/\1/')
day=$(head -1 "$work/batches/all.ndjson" | sed 's/.*"timestamp":"\([0-9-]*\)T.*/\1/')
rm "$work/batches/all.ndjson"
ingest_key=$("$bin" keys --store "$store" create --org '*' --role ingest 2>/dev/null)
read_key=$("$bin" keys --store "$store" create --org "$org" --role read 2>/dev/null)
/usr/bin/time -f '%M %U %S' -o "$work/serve-time.txt" "$bin" serve --store "$store" --listen 127.0.0.1:18181 ${SERVE_ARGS:-} >"$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
cat >"$work/ingest.lua" <<LUA
local bodies = {}
local n = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  -- Thread 0 sends the even batches, thread 1 the odd ones.
  for i = tid, $batches - 1, 2 do
    local f = io.open(string.format("$work/batches/b%05d", i), "rb")
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
end
function request()
  n = n + 1
  local body = bodies[(n - 1) % #bodies + 1]
  return wrk.format("POST", "/api/v1/ingest", {["x-api-key"] = "$ingest_key", ["x-org-id"] = "$org", ["content-type"] = "application/x-ndjson"}, body)
end
LUA
cat >"$work/query.lua" <<LUA
wrk.method = "POST"
wrk.headers["x-api-key"] = "$read_key"
wrk.body = '{"service":["all"],"start_time":"${day}T00:00:00Z","end_time":"${day}T23:59:59Z","sort":"DESC","limit":100,"search_term":{"and":[{"success":false}]}}'
function delay()
  return $query_delay_ms
end
LUA
# Give the ingest threads time to load their batches before the queries start.
/usr/bin/time -f '%U %S' -o "$work/wrk-time.txt" \
  wrk -t 2 -c 8 -d "$((seconds + 5))s" --latency -s "$work/ingest.lua" http://127.0.0.1:18181 >"$work/ingest.txt" &
ingest=$!
sleep 5
before=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_ingested_total/ {print $2}')
wrk -t 2 -c 2 -d "${seconds}s" --latency -s "$work/query.lua" http://127.0.0.1:18181/insights/directory/v1/events >"$work/query.txt"
after=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_ingested_total/ {print $2}')
wait $ingest
# The batches take gigabytes; the figures below do not need them.
rm -rf "$work/batches"
sleep 3
duplicates=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_duplicate_total/ {print $2}')
total=$(curl -s http://127.0.0.1:18181/metrics | awk '/^insights_events_ingested_total/ {print $2}')
# $serve is /usr/bin/time: stop the server under it, so that time reports and exits.
pkill -TERM -P $serve
wait $serve || true
echo "== ingest (8 connections, 1,000-event batches)"
cat "$work/ingest.txt"
awk -v s="$seconds" -v a="$before" -v b="$after" -v d="$duplicates" 'BEGIN {
  printf "events stored while the queries ran: %.0f/s (%d in %d s; duplicates over the whole run: %d)\n", (b - a) / s, b - a, s, d }'
echo "== DI queries alongside (2 connections, each pausing ${query_delay_ms} ms between an answer and its next query)"
cat "$work/query.txt"
read -r rss_kb serve_user serve_sys < <(tail -1 "$work/serve-time.txt") || true
read -r wrk_user wrk_sys < <(tail -1 "$work/wrk-time.txt") || true
echo "server: peak RSS $((rss_kb / 1024)) MiB, CPU ${serve_user}+${serve_sys} s; ingest load generator CPU ${wrk_user}+${wrk_sys} s"
# CPU per event varies less than the rate from run to run on a shared machine; it includes the
# queries' share of the server's CPU.
awk -v n="$total" -v u="$serve_user" -v s="$serve_sys" 'BEGIN {
  printf "server CPU per stored event: %.1f us (%d events over the whole run)\n", (u + s) * 1e6 / n, n }'
