#!/usr/bin/env bash
# Query benchmarks: 2,000,000 generated events over 30 days in a fresh local store (ingested,
# then compacted), the queries of docs/benchmarks.md in one warm process (median of 9 runs after a warm-up),
# and a full export of the store with its peak memory.
# Usage: scripts/bench-query.sh [EVENTS] [WORKDIR]
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
if [ ! -d "$work/query-store" ]; then
  "$bin" ingest --store "$work/query-store" "$input" >/dev/null
  "$bin" compact --store "$work/query-store"
fi
# The queries as the long-running server answers them: mimalloc keeps freed memory 10 s.
MIMALLOC_PURGE_DELAY=10000 cargo bench --locked --bench queries -- --store "$work/query-store" --runs 9
echo "export of every event (NDJSON, gzip):"
/usr/bin/time -f 'wall %e s, peak RSS %M KiB' "$bin" export --store "$work/query-store" \
  --start 2000-01-01T00:00:00Z --out "$work/all.ndjson.gz"
