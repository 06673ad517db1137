#!/usr/bin/env bash
# Pull benchmark: EVENTS generated events (default 1,000,000, over 30 days, one organization)
# in an upstream store served by `insights serve` on loopback; `insights pull --once` copies
# them all into a fresh store. Prints events/s end to end and the puller's peak RSS.
# Usage: scripts/bench-pull.sh [EVENTS] [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/bench-input.sh" "${1:-1000000}" "${2:-}"
if [ ! -d "$work/upstream" ]; then
  "$bin" ingest --store "$work/upstream" "$input" >/dev/null
  "$bin" compact --store "$work/upstream" >/dev/null
fi
org=$(head -c 2000 "$input" | grep -o '"organization":"[^"]*"' | head -1 | cut -d'"' -f4)
key=$("$bin" keys --store "$work/upstream" create --org "$org" --role read --name bench)
port=$((20000 + RANDOM % 20000))
"$bin" serve --store "$work/upstream" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until grep -q listening "$work/serve.log"; do sleep 0.2; done
rm -rf "$work/pulled"
JC_API_KEY=$key /usr/bin/time -f '%e %M' -o "$work/pull-time.txt" \
  "$bin" pull --store "$work/pulled" --org "$org" --base-url "http://127.0.0.1:$port" \
  --since 2000-01-01T00:00:00Z --once --json >"$work/pull.json"
read -r seconds peak_kb <"$work/pull-time.txt"
cat "$work/pull.json"
pulled=$(grep -o '"pulled":[0-9]*' "$work/pull.json" | cut -d: -f2)
awk -v n="$pulled" -v s="$seconds" -v kb="$peak_kb" 'BEGIN {
  printf "pull: %d events in %.2f s = %.0f events/s end to end, puller peak RSS %.0f MiB\n", n, s, n / s, kb / 1024
}'
