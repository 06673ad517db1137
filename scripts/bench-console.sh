#!/usr/bin/env bash
# The console's first screen, timed at the server: the 2,000,000 generated events of the other
# benchmarks, but dated the 30 days before today (ingested, then compacted), a read key of
# their organization, and the requests the console sends for "last 24 h" with no filter — the
# key's check and the views list, the first page of 100 events, the histogram stacked by
# service, and the top users, IPs, event types and countries — timed one after another (their
# sum) and three at a time as the console sends them (the screen's wall time). Median of 9
# rounds after a cold first round.
# Usage: scripts/bench-console.sh [EVENTS] [WORKDIR]
set -euo pipefail
# The console's presets end now: the events end today.
BENCH_START=$(date -u -d '30 days ago' +%F)
source "$(dirname "$0")/bench-input.sh"
store="$work/console-store-$start"
if [ ! -d "$store" ]; then
  "$bin" ingest --store "$store" "$input" >/dev/null
  "$bin" compact --store "$store" >/dev/null
fi
# The busiest organization (the generated events have one).
org=$("$bin" stats --store "$store" --json | python3 -c '
import json, sys
orgs = json.load(sys.stdin)["organizations"]
print(max(orgs, key=lambda org: orgs[org]["rows"]))')
key=$("$bin" keys --store "$store" create --org "$org" --role read 2>/dev/null)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MIMALLOC_PURGE_DELAY=10000 "$bin" serve --store "$store" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until grep -q listening "$work/serve.log"; do sleep 0.2; done
python3 - "$port" "$key" <<'EOF'
import concurrent.futures, datetime, json, statistics, sys, time, urllib.request

port, key = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
DI = "/insights/directory/v1"


def screen():
    """The first screen's requests, built as the console builds them (state.js, histogram.js)."""
    end = datetime.datetime.now(datetime.timezone.utc)
    start = end - datetime.timedelta(hours=24)
    window = {"service": ["all"], "start_time": start.isoformat().replace("+00:00", "Z"),
              "end_time": end.isoformat().replace("+00:00", "Z")}
    requests = [
        ("me (the key's check)", "/api/v1/me", None),
        ("views (the list)", "/api/v1/views", None),
        ("events", DI + "/events", {**window, "sort": "DESC", "limit": 100}),
        ("interval", DI + "/events/interval", {**window, "interval_unit": "m", "interval_value": 30,
                                                "timezone": "Z", "stack_by": "service"}),
    ]
    for field in ["username", "client_ip", "event_type", "geoip.country_code"]:
        requests.append((f"distinct {field}", DI + "/events/distinct", {**window, "field": field}))
    return requests


def ask(item):
    name, path, body = item
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"x-api-key": key, "content-type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        data = response.read()
    return name, (time.perf_counter() - began) * 1000, len(data)


def sequential():
    return [ask(item) for item in screen()]


def parallel():
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(ask, screen()))
    return (time.perf_counter() - began) * 1000


first = sequential()
print("events in the last 24 h:",
      json.load(urllib.request.urlopen(urllib.request.Request(
          base + DI + "/events/count", data=json.dumps({k: v for k, v in screen()[2][2].items() if k not in ("sort", "limit")}).encode(),
          headers={"x-api-key": key})))["count"])
print(f"cold (first round): {sum(ms for _, ms, _ in first):.0f} ms in all")
rounds = [sequential() for _ in range(9)]
walls = [parallel() for _ in range(9)]
print(f"{'request':<28} {'median ms':>10}")
for i, (name, _, size) in enumerate(rounds[0]):
    print(f"{name:<28} {statistics.median(r[i][1] for r in rounds):>10.1f}")
sums = [sum(ms for _, ms, _ in r) for r in rounds]
print(f"{'sum, one after another':<28} {statistics.median(sums):>10.1f}   (min {min(sums):.0f}, max {max(sums):.0f})")
print(f"{'wall, three at a time':<28} {statistics.median(walls):>10.1f}   (min {min(walls):.0f}, max {max(walls):.0f})")
EOF
