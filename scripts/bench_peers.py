#!/usr/bin/env python3
"""This engine beside DuckDB, Polars and chDB over the same generated events (scripts/bench-peers.sh).

Each system gets the same NDJSON: this engine through `insights ingest` and `insights compact`,
asked through `insights serve` over HTTP with an all-organizations key; each peer through its own
NDJSON -> Parquet conversion, asked in-process. Every workload runs once per system to warm up,
then RUNS rounds in which each system answers it once (so that the machine's slow spells fall on
all systems alike); the median is printed with the ratio to the fastest peer. Answers are normalized and
compared with DuckDB's, so a faster wrong answer fails the run (exit 1).
"""
import argparse
import csv
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--input", required=True)
parser.add_argument("--work", required=True)
parser.add_argument("--runs", type=int, default=5)
args = parser.parse_args()
work = Path(args.work) / "peers"
work.mkdir(parents=True, exist_ok=True)
INPUT = args.input

# The generated events span 2026-10-01 .. 2026-10-31; "now" for the relative workloads is the end.
END = dt.datetime(2026, 10, 31, tzinfo=dt.timezone.utc)
DAY = dt.datetime(2026, 10, 15, tzinfo=dt.timezone.utc)
LOGINS = ["sso_auth", "user_login_attempt", "login_attempt", "radius_auth_attempt"]


def iso(t):
    return t.isoformat().replace("+00:00", "Z")


def timed_process(command):
    """Runs a command; returns (seconds, peak RSS in MiB)."""
    report = work / "time.txt"
    began = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), *command], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - began
    return seconds, int(report.read_text().split()[-1]) / 1024


def du(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# Ingest: NDJSON -> each system's table, once each, timed with its peak memory.

store = work / "store"
shutil.rmtree(store, ignore_errors=True)
ingest = {}
ingest["this engine"] = timed_process([args.bin, "ingest", "--store", str(store), INPUT])
compact = timed_process([args.bin, "compact", "--store", str(store)])

DUCK = work / "duckdb.parquet"
POLARS = work / "polars.parquet"
CHDB = work / "chdb.parquet"
conversions = {
    "DuckDB": f"""
import duckdb
duckdb.connect().execute("COPY (SELECT * FROM read_json('{INPUT}', format='newline_delimited', union_by_name=true)) TO '{DUCK}' (FORMAT parquet)")
""",
    "Polars": f"""
import polars as pl
(pl.scan_ndjson('{INPUT}', infer_schema_length=None)
   .with_columns(pl.col('timestamp').str.to_datetime('%Y-%m-%dT%H:%M:%S%.fZ', time_zone='UTC'))
   .sink_parquet('{POLARS}'))
""",
    "chDB": f"""
import chdb
chdb.query("INSERT INTO FUNCTION file('{CHDB}', Parquet) SELECT * FROM file('{INPUT}', JSONEachRow) SETTINGS input_format_max_rows_to_read_for_schema_inference = 100000, input_format_json_use_string_type_for_ambiguous_paths_in_named_tuples_inference_from_objects = 1, engine_file_truncate_on_insert = 1")
""",
}
for peer, code in conversions.items():
    try:
        ingest[peer] = timed_process([sys.executable, "-c", code])
    except subprocess.CalledProcessError as error:
        print(f"{peer}: conversion failed ({error}); left out", file=sys.stderr)

# ---------------------------------------------------------------------------------------------
# The systems, ready to ask.

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

duck = duckdb.connect()
duck.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{DUCK}')")
lazy = pl.scan_parquet(POLARS) if "Polars" in ingest else None
chdb_session = None
if "chDB" in ingest:
    import chdb  # noqa: E402

    def chq(sql, fmt="JSONCompact"):
        return json.loads(chdb.query(sql.replace("events", f"file('{CHDB}', Parquet)"), fmt).bytes())["data"]
else:
    chq = None

orgs = [row[0] for row in duck.execute("SELECT DISTINCT organization FROM events ORDER BY 1").fetchall()]
user = duck.execute(f"""
    SELECT initiated_by.username AS u FROM events
    WHERE coalesce(success, sso_token_success) = false AND event_type IN {tuple(LOGINS)}
      AND timestamp >= TIMESTAMPTZ '{iso(END - dt.timedelta(days=7))}'
    GROUP BY u ORDER BY count(*) DESC, u LIMIT 1""").fetchone()[0]
host = duck.execute("""
    SELECT system.hostname AS h FROM events WHERE event_type = 'login_attempt'
    GROUP BY h ORDER BY count(*) DESC, h LIMIT 1""").fetchone()[0]
event_id = duck.execute(f"""
    SELECT id FROM events WHERE timestamp >= TIMESTAMPTZ '{iso(DAY)}' ORDER BY timestamp, id LIMIT 1""").fetchone()[0]

admin_key = subprocess.run([args.bin, "keys", "--store", str(store), "create", "--org", "*", "--role", "admin"],
                           check=True, capture_output=True, text=True).stdout.strip()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
serve_log = open(work / "serve.log", "w")
server = subprocess.Popen([args.bin, "serve", "--store", str(store), "--listen", f"127.0.0.1:{port}"],
                          stdout=serve_log, stderr=subprocess.STDOUT, env={**os.environ, "MIMALLOC_PURGE_DELAY": "10000"})
deadline = time.time() + 60
while "listening" not in (work / "serve.log").read_text():
    if time.time() > deadline:
        sys.exit("insights serve did not start")
    time.sleep(0.1)
BASE = f"http://127.0.0.1:{port}"


def http(path, body, out=None):
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), headers={
        "x-api-key": admin_key, "x-org-id": ",".join(orgs), "content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        if out is None:
            return json.loads(response.read())
        with open(out, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
        return out


def sql(query):
    return http("/api/v1/sql", {"query": query})


def epoch(value):
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    text = str(value).replace("Z", "+00:00").replace(" ", "T")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp())


def ids_in_csv(path):
    with open(path, newline="") as f:
        return sorted(row["id"] for row in csv.DictReader(f))


def ids_in_ndjson(path):
    with open(path) as f:
        return sorted(json.loads(line)["id"] for line in f if line.strip())


# ---------------------------------------------------------------------------------------------
# The workloads: for each system a function returning a normalized answer.

week = (END - dt.timedelta(days=7), END)
yesterday = (END - dt.timedelta(days=1), END)
day = (DAY, DAY + dt.timedelta(days=1))
in_logins = "(" + ", ".join(f"'{t}'" for t in LOGINS) + ")"
CSV_FIELDS = ["id", "timestamp", "initiated_by.username", "client_ip", "geoip.country_code", "application.name"]

workloads = []


def workload(name):
    def register(systems):
        workloads.append((name, systems))
    return register


workload("count by service, event_type (SQL)")({
    "this engine": lambda: sorted((r["service"], r["event_type"], r["n"]) for r in sql(
        "SELECT service, event_type, count(*) AS n FROM events GROUP BY service, event_type")),
    "DuckDB": lambda: sorted(duck.execute(
        "SELECT service, event_type, count(*) FROM events GROUP BY ALL").fetchall()),
    "Polars": lambda: sorted(lazy.group_by("service", "event_type").len().collect().iter_rows()),
    "chDB": lambda: sorted(tuple(r) for r in chq(
        "SELECT service, event_type, count() FROM events GROUP BY service, event_type")),
})

workload("failed logins of one user, 7 days, newest first, limit 1000 (DI route)")({
    "this engine": lambda: sorted(e["id"] for e in http("/insights/directory/v1/events", {
        "service": ["all"], "start_time": iso(week[0]), "end_time": iso(week[1]), "sort": "DESC",
        "limit": 1000, "search_term": {"and": [{"initiated_by.username": user}, {"success": False},
                                               {"event_type": LOGINS}]}})),
    "DuckDB": lambda: sorted(r[0] for r in duck.execute(f"""
        SELECT id FROM events WHERE initiated_by.username = '{user}'
          AND coalesce(success, sso_token_success) = false AND event_type IN {in_logins}
          AND timestamp >= TIMESTAMPTZ '{iso(week[0])}' AND timestamp < TIMESTAMPTZ '{iso(week[1])}'
        ORDER BY timestamp DESC LIMIT 1000""").fetchall()),
    "Polars": lambda: sorted(lazy.filter(
        (pl.col("initiated_by").struct.field("username") == user)
        & (pl.coalesce("success", "sso_token_success") == False)  # noqa: E712
        & pl.col("event_type").is_in(LOGINS)
        & (pl.col("timestamp") >= week[0]) & (pl.col("timestamp") < week[1]))
        .sort("timestamp", descending=True).head(1000).select("id").collect()["id"].to_list()),
    "chDB": lambda: sorted(r[0] for r in chq(f"""
        SELECT id FROM events WHERE initiated_by.username = '{user}'
          AND coalesce(success, sso_token_success) = false AND event_type IN {in_logins}
          AND timestamp >= parseDateTime64BestEffort('{iso(week[0])}') AND timestamp < parseDateTime64BestEffort('{iso(week[1])}')
        ORDER BY timestamp DESC LIMIT 1000""")),
})

workload("top 20 IPs by failed logins, 24 h (SQL)")({
    "this engine": lambda: [(r["client_ip"], r["n"]) for r in sql(f"""
        SELECT client_ip, count(*) AS n FROM events WHERE success = false AND event_type IN {in_logins}
          AND timestamp >= TIMESTAMP '{iso(yesterday[0])}' AND timestamp < TIMESTAMP '{iso(yesterday[1])}'
        GROUP BY client_ip ORDER BY n DESC, client_ip LIMIT 20""")],
    "DuckDB": lambda: duck.execute(f"""
        SELECT client_ip, count(*) AS n FROM events
        WHERE coalesce(success, sso_token_success) = false AND event_type IN {in_logins}
          AND timestamp >= TIMESTAMPTZ '{iso(yesterday[0])}' AND timestamp < TIMESTAMPTZ '{iso(yesterday[1])}'
        GROUP BY client_ip ORDER BY n DESC, client_ip LIMIT 20""").fetchall(),
    "Polars": lambda: list(lazy.filter(
        (pl.coalesce("success", "sso_token_success") == False)  # noqa: E712
        & pl.col("event_type").is_in(LOGINS)
        & (pl.col("timestamp") >= yesterday[0]) & (pl.col("timestamp") < yesterday[1]))
        .group_by("client_ip").len().sort(["len", "client_ip"], descending=[True, False]).head(20)
        .collect().iter_rows()),
    "chDB": lambda: [tuple(r) for r in chq(f"""
        SELECT client_ip, count() AS n FROM events
        WHERE coalesce(success, sso_token_success) = false AND event_type IN {in_logins}
          AND timestamp >= parseDateTime64BestEffort('{iso(yesterday[0])}') AND timestamp < parseDateTime64BestEffort('{iso(yesterday[1])}')
        GROUP BY client_ip ORDER BY n DESC, client_ip LIMIT 20""")],
})

workload("events per hour per service, 30 days (SQL, date_trunc)")({
    "this engine": lambda: sorted((epoch(r["hour"]), r["service"], r["n"]) for r in sql(
        "SELECT date_trunc('hour', timestamp) AS hour, service, count(*) AS n FROM events GROUP BY 1, 2")),
    "DuckDB": lambda: sorted((epoch(h), s, n) for h, s, n in duck.execute(
        "SELECT date_trunc('hour', timestamp), service, count(*) FROM events GROUP BY ALL").fetchall()),
    "Polars": lambda: sorted((epoch(h), s, n) for h, s, n in lazy.group_by(
        pl.col("timestamp").dt.truncate("1h").alias("hour"), "service").len().collect().iter_rows()),
    "chDB": lambda: sorted((epoch(h), s, int(n)) for h, s, n in chq(
        "SELECT toStartOfHour(timestamp, 'UTC'), service, count() FROM events GROUP BY 1, 2")),
})

workload("distinct users who logged in to one host (SQL)")({
    "this engine": lambda: sql(f"""
        SELECT count(DISTINCT username) AS n FROM events
        WHERE system_hostname = '{host}' AND event_type = 'login_attempt'""")[0]["n"],
    "DuckDB": lambda: duck.execute(f"""
        SELECT count(DISTINCT initiated_by.username) FROM events
        WHERE system.hostname = '{host}' AND event_type = 'login_attempt'""").fetchone()[0],
    "Polars": lambda: lazy.filter(
        (pl.col("system").struct.field("hostname") == host) & (pl.col("event_type") == "login_attempt"))
        .select(pl.col("initiated_by").struct.field("username").drop_nulls().n_unique()).collect().item(),
    "chDB": lambda: int(chq(f"""
        SELECT uniqExact(initiated_by.username) FROM events
        WHERE system.hostname = '{host}' AND event_type = 'login_attempt'""")[0][0]),
})

workload("one day of sso to CSV, DI field paths as columns (export route, fields)")({
    "this engine": lambda: ids_in_csv(http("/api/v1/export?format=csv", {
        "service": ["sso"], "start_time": iso(day[0]), "end_time": iso(day[1]), "fields": CSV_FIELDS},
        work / "ours.csv")),
    "DuckDB": lambda: (duck.execute(f"""
        COPY (SELECT id, timestamp, initiated_by.username, client_ip, geoip.country_code, application.name
              FROM events WHERE service = 'sso'
                AND timestamp >= TIMESTAMPTZ '{iso(day[0])}' AND timestamp < TIMESTAMPTZ '{iso(day[1])}')
        TO '{work / "duckdb.csv"}' (HEADER)"""), ids_in_csv(work / "duckdb.csv"))[1],
    "Polars": lambda: (lazy.filter(
        (pl.col("service") == "sso") & (pl.col("timestamp") >= day[0]) & (pl.col("timestamp") < day[1]))
        .select("id", "timestamp", pl.col("initiated_by").struct.field("username"), "client_ip",
                pl.col("geoip").struct.field("country_code"), pl.col("application").struct.field("name"))
        .sink_csv(work / "polars.csv"), ids_in_csv(work / "polars.csv"))[1],
    "chDB": lambda: (chdb.query(f"""
        SELECT id, timestamp, initiated_by.username, client_ip, geoip.country_code, application.name
        FROM file('{CHDB}', Parquet) WHERE service = 'sso'
          AND timestamp >= parseDateTime64BestEffort('{iso(day[0])}') AND timestamp < parseDateTime64BestEffort('{iso(day[1])}')
        INTO OUTFILE '{work / "chdb.csv"}' TRUNCATE FORMAT CSVWithNames"""), ids_in_csv(work / "chdb.csv"))[1],
})

workload("the same day to NDJSON (export route)")({
    "this engine": lambda: ids_in_ndjson(http("/api/v1/export?format=ndjson", {
        "service": ["sso"], "start_time": iso(day[0]), "end_time": iso(day[1])}, work / "ours.ndjson")),
    "DuckDB": lambda: (duck.execute(f"""
        COPY (SELECT * FROM events WHERE service = 'sso'
                AND timestamp >= TIMESTAMPTZ '{iso(day[0])}' AND timestamp < TIMESTAMPTZ '{iso(day[1])}')
        TO '{work / "duckdb.ndjson"}' (FORMAT json)"""), ids_in_ndjson(work / "duckdb.ndjson"))[1],
    "Polars": lambda: (lazy.filter(
        (pl.col("service") == "sso") & (pl.col("timestamp") >= day[0]) & (pl.col("timestamp") < day[1]))
        .sink_ndjson(work / "polars.ndjson"), ids_in_ndjson(work / "polars.ndjson"))[1],
    "chDB": lambda: (chdb.query(f"""
        SELECT * FROM file('{CHDB}', Parquet) WHERE service = 'sso'
          AND timestamp >= parseDateTime64BestEffort('{iso(day[0])}') AND timestamp < parseDateTime64BestEffort('{iso(day[1])}')
        INTO OUTFILE '{work / "chdb.ndjson"}' TRUNCATE FORMAT JSONEachRow"""), ids_in_ndjson(work / "chdb.ndjson"))[1],
})

workload("one event by id (SQL)")({
    "this engine": lambda: [r["id"] for r in sql(f"SELECT id, service FROM events WHERE id = '{event_id}'")],
    "DuckDB": lambda: [r[0] for r in duck.execute(f"SELECT id, service FROM events WHERE id = '{event_id}'").fetchall()],
    "Polars": lambda: lazy.filter(pl.col("id") == event_id).select("id", "service").collect()["id"].to_list(),
    "chDB": lambda: [r[0] for r in chq(f"SELECT id, service FROM events WHERE id = '{event_id}'")],
})

# ---------------------------------------------------------------------------------------------
# Run, check, print.

SYSTEMS = ["this engine", "DuckDB", "Polars", "chDB"]
available = {"this engine": True, "DuckDB": True, "Polars": "Polars" in ingest, "chDB": "chDB" in ingest}
failed = False


def interleaved_ms(fns):
    """Each system's answer once to warm up, then RUNS rounds in which every system answers once:
    a slow spell of the machine falls on every system alike, not on whichever was being timed.
    Returns the median milliseconds and the last answer of each system, and the errors of those
    that could not answer."""
    answers, times, errors = {}, {system: [] for system in fns}, {}
    for system, fn in fns.items():
        try:
            answers[system] = fn()
        except Exception as error:  # a peer that cannot run a workload is left out of it
            errors[system] = error
    for _ in range(args.runs):
        for system, fn in fns.items():
            if system in errors:
                continue
            try:
                began = time.perf_counter()
                answers[system] = fn()
                times[system].append((time.perf_counter() - began) * 1000)
            except Exception as error:
                errors[system] = error
    medians = {system: statistics.median(times[system]) for system in fns if system not in errors}
    return medians, answers, errors


def steal_seconds():
    """CPU time the hypervisor gave to others while this machine's cores wanted to run (Linux
    `steal` in /proc/stat, all cores), in seconds; None where the system does not tell."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def row(name, figures, unit, lower_is_better=True):
    ours = figures.get("this engine")
    peers = {k: v for k, v in figures.items() if k != "this engine" and v is not None}
    best = min(peers, key=peers.get) if peers else None
    cells = [f"{figures[s]:.{1 if unit == 's' else 0}f}" if figures.get(s) is not None else "—" for s in SYSTEMS]
    ratio = f"{ours / peers[best]:.2f}" if best and ours is not None and peers[best] else "—"
    print(f"| {name} | " + " | ".join(cells) + f" | {best or '—'} | {ratio} |")


print(f"\n{len(orgs)} organizations, {sum(1 for _ in open(INPUT))} events; user {user}, host {host}, id {event_id}; "
      f"median of {args.runs} runs\n")
print("| workload | " + " | ".join(SYSTEMS) + " | fastest peer | ratio to it |")
print("|---" * (len(SYSTEMS) + 3) + "|")
row("ingest NDJSON → table (s)", {s: ingest[s][0] if s in ingest else None for s in SYSTEMS}, "s")
row("… its peak RSS (MiB)", {s: ingest[s][1] if s in ingest else None for s in SYSTEMS}, "MiB")
stolen = {}
for name, systems in workloads:
    order = [system for system in ["DuckDB", "this engine", "Polars", "chDB"] if available[system]]
    steal_before = steal_seconds()
    figures, answers, errors = interleaved_ms({system: systems[system] for system in order})
    if steal_before is not None:
        stolen[name] = steal_seconds() - steal_before
    for system, error in errors.items():
        print(f"{system} failed on {name!r}: {error}", file=sys.stderr)
        failed = failed or system == "this engine"
    reference = answers.get("DuckDB") if "DuckDB" not in errors else None
    ours_answer = answers.get("this engine") if "this engine" not in errors else None
    for system in order:
        if system in ("DuckDB", "this engine") or system in errors or reference is None:
            continue
        if answers[system] != reference:
            print(f"note: {system} answers {name!r} otherwise than DuckDB", file=sys.stderr)
    if reference is not None and ours_answer is not None and ours_answer != reference:
        failed = True
        print(f"WRONG ANSWER from this engine on {name!r}: {str(ours_answer)[:300]} != DuckDB's {str(reference)[:300]}",
              file=sys.stderr)
    row(name + " (ms)", {s: figures.get(s) for s in SYSTEMS}, "ms")
sizes = {"this engine": None, "DuckDB": du(DUCK), "Polars": du(POLARS) if available["Polars"] else None,
         "chDB": du(CHDB) if available["chDB"] else None}
stats = json.loads(subprocess.run([args.bin, "stats", "--store", str(store), "--json"], check=True,
                                  capture_output=True, text=True).stdout)
sizes["this engine"] = stats["bytes"]
row("live table size (MB)", {k: (v / 1e6 if v is not None else None) for k, v in sizes.items()}, "MB")
# Timings of a workload during which the hypervisor took the cores away are not comparable with
# a quiet run's; the rounds spread such a spell over every system, but not evenly.
noisy = {name: seconds for name, seconds in stolen.items() if seconds >= 0.1}
if noisy:
    print("\nsteal time (the machine's cores given to other guests) during: "
          + "; ".join(f"{name} {seconds:.1f} s" for name, seconds in noisy.items()))
print(f"\nthis engine: compaction {compact[0]:.1f} s ({compact[1]:.0f} MiB peak); store on disk "
      f"{du(store / 'events') / 1e6:.0f} MB including files compaction left behind")
server.terminate()
server.wait()
sys.exit(1 if failed else 0)
