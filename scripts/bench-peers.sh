#!/usr/bin/env bash
# Side by side with DuckDB, Polars and chDB (ClickHouse in a library), on this machine in one
# run: the same 2,000,000 generated events (30 days, 3 organizations) into this engine
# (`insights ingest`, then `insights compact`, asked through `insights serve` over HTTP) and into
# each peer's own Parquet conversion of the NDJSON; the workloads of docs/benchmarks.md asked the
# way a user would (DI routes with documented field paths, SQL, exports with `fields`); medians
# of RUNS (5) runs; every answer checked against DuckDB's. Installs the peers with pip if missing.
# Usage: [RUNS=5] scripts/bench-peers.sh [EVENTS] [WORKDIR]
set -euo pipefail
BENCH_ORGS=3
source "$(dirname "$0")/bench-input.sh"
python3 -c 'import duckdb, polars, chdb' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'duckdb>=2.0' 'polars>=2.1' 'chdb>=4.4'
exec python3 scripts/bench_peers.py --bin "$bin" --input "$input" --work "$work" --runs "${RUNS:-5}"
