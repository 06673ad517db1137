#!/usr/bin/env bash
# Query benchmarks: 2,000,000 generated events over 30 days in a fresh local store (ingested,
# then compacted), the queries of docs/benchmarks.md in one warm process (median of 9 runs after a warm-up),
# and a full export of the store with its peak memory.
# Usage: scripts/bench-query.sh [EVENTS] [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/bench-input.sh"
if [ ! -d "$work/query-store" ]; then
  "$bin" ingest --store "$work/query-store" "$input" >/dev/null
  "$bin" compact --store "$work/query-store"
fi
# The queries as the long-running server answers them: mimalloc keeps freed memory 10 s.
MIMALLOC_PURGE_DELAY=10000 cargo bench --locked --bench queries -- --store "$work/query-store" --runs 9
echo "export of every event (NDJSON, gzip):"
/usr/bin/time -f 'wall %e s, peak RSS %M KiB' "$bin" export --store "$work/query-store" \
  --start 2000-01-01T00:00:00Z --out "$work/all.ndjson.gz"
