#!/usr/bin/env bash
# End-to-end ingest benchmark: 2,000,000 generated events over 30 days into a fresh local store.
# Prints events/s and the peak RSS of `insights ingest`; with INSIGHTS_SIGNING_KEY_FILE set (the
# digests are then signed), also the time and peak RSS of `insights verify` of the new store.
# Usage: scripts/bench-ingest.sh [EVENTS] [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/bench-input.sh"
bytes=$(stat -c %s "$input")
rm -rf "$work/store"
/usr/bin/time -f '%e %M' -o "$work/time.txt" "$bin" ingest --store "$work/store" "$input" >"$work/summary.txt"
read -r seconds peak_kb <"$work/time.txt"
cat "$work/summary.txt"
awk -v n="$events" -v s="$seconds" -v kb="$peak_kb" -v b="$bytes" 'BEGIN {
  printf "ingest: %d events (%.0f bytes/event) in %.2f s = %.0f events/s, peak RSS %.0f MiB\n", n, b / n, s, n / s, kb / 1024
}'
"$bin" stats --store "$work/store" | head -6
if [ -n "${INSIGHTS_SIGNING_KEY_FILE:-}" ]; then
  /usr/bin/time -f '%e %M' -o "$work/verify-time.txt" "$bin" verify --store "$work/store" >"$work/verify.txt"
  tail -1 "$work/verify.txt"
  read -r seconds peak_kb <"$work/verify-time.txt"
  awk -v s="$seconds" -v kb="$peak_kb" 'BEGIN { printf "verify: %.2f s, peak RSS %.0f MiB\n", s, kb / 1024 }'
fi
