#!/usr/bin/env bash
# Increment benchmark, RUNS times (default 3): a fresh moto S3-compatible server on loopback,
# EVENTS generated events ingested into a store on it, then one increment of all of them
# exported to another bucket on the same server. Prints events per second (each run and the
# median) and the exporter's peak resident memory. A fresh server per run, because moto keeps
# every object in its Python process and slows down as it grows.
# Usage: [RUNS=3] scripts/bench-increment.sh [EVENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
runs=${RUNS:-3}
# INSIGHTS_BIN=path runs another build (to compare two side by side) instead of building this one.
if [ -z "${INSIGHTS_BIN:-}" ]; then
  cargo build --release --locked --bin insights
fi
bin=${INSIGHTS_BIN:-${CARGO_TARGET_DIR:-target}/release/insights}
input="$work/events-$events.ndjson"
[ -f "$input" ] || "$bin" generate --events "$events" --days 30 --seed 42 --start 2026-10-01 --out "$input"

moto=
trap '[ -n "$moto" ] && kill $moto 2>/dev/null || true' EXIT
for run in $(seq "$runs"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto=$!
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  python3 - <<PY
import boto3
c = boto3.client("s3", endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1",
                 aws_access_key_id="bench", aws_secret_access_key="bench")
for bucket in ("audit", "archive"):
    c.create_bucket(Bucket=bucket)
PY
  rm -rf "$work/state-$run"
  "$bin" ingest --store s3://audit/di --state-dir "$work/state-$run" "$input" >/dev/null
  /usr/bin/time -f 'wall %e s, peak RSS %M KiB' -o "$work/time-$run.txt" \
    "$bin" export-increment --store s3://audit/di --dest s3://archive/bench >"$work/report-$run.json"
  kill "$moto"; wait "$moto" 2>/dev/null || true; moto=
done

echo "one increment of $events events to moto, $runs runs:"
python3 - "$work" "$runs" <<'PY'
import json, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
rates = []
for run in range(1, runs + 1):
    report = json.loads(open(f"{work}/report-{run}.json").read().splitlines()[-1])
    timing = open(f"{work}/time-{run}.txt").read().strip().splitlines()[-1]
    rows, seconds = report["rows"], report["seconds"]
    rates.append(rows / seconds)
    size = sum(o["bytes"] for o in report["objects"]) / 2**20
    print(f"run {run}: rows {rows}, objects {len(report['objects'])}, {size:.1f} MiB gzip, "
          f"{seconds:.2f} s, {rows / seconds:,.0f} events/s; process {timing}")
print(f"median: {statistics.median(rates):,.0f} events/s")
PY
