#!/usr/bin/env bash
# End-to-end ingest benchmark: 2,000,000 generated events over 30 days into a fresh local store.
# Prints events/s and the peak RSS of `insights ingest`.
# Usage: scripts/bench-ingest.sh [EVENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-2000000}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
# INSIGHTS_BIN=path runs another build (to compare two side by side) instead of building this one.
if [ -z "${INSIGHTS_BIN:-}" ]; then
  cargo build --release --locked --bin insights
fi
bin=${INSIGHTS_BIN:-${CARGO_TARGET_DIR:-target}/release/insights}
input="$work/events-$events.ndjson"
[ -f "$input" ] || "$bin" generate --events "$events" --days 30 --seed 42 --start 2026-10-01 --out "$input"
bytes=$(stat -c %s "$input")
rm -rf "$work/store"
/usr/bin/time -f '%e %M' -o "$work/time.txt" "$bin" ingest --store "$work/store" "$input" >"$work/summary.txt"
read -r seconds peak_kb <"$work/time.txt"
cat "$work/summary.txt"
awk -v n="$events" -v s="$seconds" -v kb="$peak_kb" -v b="$bytes" 'BEGIN {
  printf "ingest: %d events (%.0f bytes/event) in %.2f s = %.0f events/s, peak RSS %.0f MiB\n", n, b / n, s, n / s, kb / 1024
}'
"$bin" stats --store "$work/store" | head -6
