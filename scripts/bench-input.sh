# Sourced by the benchmark scripts: the binary to measure and a generated input.
# Sets `events` (first argument, default 2,000,000), `work` (second argument, default a new
# temporary directory), `bin` and `input` (generated events over 30 days, kept between runs).
# INSIGHTS_BIN=path runs another build (to compare two side by side) instead of building this one.
# BENCH_START=YYYY-MM-DD dates the events from another first day than 2026-10-01;
# BENCH_ORGS=N spreads them over N organizations instead of one.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
events=${1:-2000000}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
if [ -z "${INSIGHTS_BIN:-}" ]; then
  cargo build --release --locked --bin insights
fi
bin=${INSIGHTS_BIN:-${CARGO_TARGET_DIR:-target}/release/insights}
start=${BENCH_START:-2026-10-01}
orgs=${BENCH_ORGS:-1}
input="$work/events-$events.ndjson"
[ "$start" = 2026-10-01 ] || input="$work/events-$events-from-$start.ndjson"
[ "$orgs" = 1 ] || input="${input%.ndjson}-$orgs-orgs.ndjson"
[ -f "$input" ] || "$bin" generate --events "$events" --days 30 --seed 42 --start "$start" \
  --orgs "$orgs" --out "$input"
