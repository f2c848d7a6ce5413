"""`python -m benchmarks trino` (part of `make bench-history`): bytes each history statement reads, measured on
Trino (its `physicalInputBytes`, what Athena bills as data scanned), over simulator snapshots.

- Every hourly run of the synthesized state machine: the MERGE's bytes against the raw bytes of the hours it
  merged (its period, look-back included). Target: at most 1.3x.
- The named queries that ask about "now" (the last day, today, the latest snapshot) over the `user_data` view
  mid-day: as the view reads raw today (from the watermark's hour on) and as it did before (the watermark's
  whole day: the same view without its hour bound).
- Agent activity's refresh in each hourly run (bytes read), and the two tables' rows per agent-day.
Writes docs/benchmarks-trino.md. Needs `make trino`.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

from connect_exporter.observability import logger
from lake_sql import activity, history
from lake_sql.named import QUERIES
from lake_sql.queries import VIEW_REF
from simulator.history import export_history, history_filters
from simulator.world import build_instance
from tests.infrastructure import statemachine
from tests.infrastructure.support import EXAMPLE, synth
from tests.trino.athena import TrinoAthena
from tests.trino.server import TrinoServer, free_port

REPO = Path(__file__).resolve().parents[1]
UTC = dt.UTC
START = dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
MINUTES, AGENTS = 360, 300
REFRESHED = (history.ref(activity.INTERVALS), history.ref(activity.ACTIVITY))
NOW_QUERIES = (
    "latest-agent-state",
    "agents-per-status-over-time",
    "slots-per-channel-over-time",
    "agents-on-contacts-by-state",
    "status-minutes-per-agent-today",
)


def main() -> int:
    logger.setLevel("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-trino-") as folder:
        result = measure(Path(folder))
    (REPO / "docs" / "benchmarks-trino.json").write_text(json.dumps(result, indent=2) + "\n")
    (REPO / "docs" / "benchmarks-trino.md").write_text(render(result))
    print(render(result))
    return 0 if result["merge_ratio_max"] <= 1.3 else 1


def measure(root: Path) -> dict:
    instance = build_instance(seed=7, agents=AGENTS, routing_profiles=30, queues=40, epoch=START)
    filters = history_filters(instance)[:3]
    config = json.loads(EXAMPLE.read_text())
    config["instances"] = [{"instance_id": instance.id, "filters": filters}]
    config["deployment"]["alarms"] = []
    (root / "config.json").write_text(json.dumps(config))
    template = synth(root, root / "config.json").json
    server = TrinoServer(root / "trino", free_port()).start()
    try:
        snapshots = server.lake / "snapshots"
        export_history(instance, filters, START, MINUTES, snapshots, lambda docs: 0)
        athena = TrinoAthena(server.port, server.lake / "metastore")
        athena.register(template)
        machine = statemachine.definition(template)
        merges, refreshes = [], []
        for hour in range(1, MINUTES // 60 + 1):  # the hourly schedule, at :20
            now = START + dt.timedelta(hours=hour, minutes=40)
            data, _ = statemachine.run(machine, {}, athena.athena(now))
            refresh: dict[str, Any] = {"hour": f"{now:%H:%M}", "read_bytes": 0, "merge_bytes": 0}
            for sql, read in athena.read:
                if sql.startswith(f"MERGE INTO {history.ref(history.HISTORY)}") and read:
                    merges.append(_merge(sql, read, snapshots))
                    refresh["merge_bytes"] += read
                elif sql.startswith((f"MERGE INTO {REFRESHED[0]}", f"DELETE FROM {REFRESHED[1]}", f"INSERT INTO {REFRESHED[1]}")):
                    refresh["read_bytes"] += read
            refreshes.append(refresh)
            athena.read.clear()
        until = data["plan"]["until"]
        now = START + dt.timedelta(minutes=MINUTES)
        sizes = {
            table: athena.execute(
                f"SELECT count(*) AS n, count(DISTINCT (user_id, date_trunc('day', {time}))) AS agent_days FROM {history.ref(table)}"
            )[0]
            for table, time in ((activity.INTERVALS, "start_time"), (activity.ACTIVITY, "interval_start"))
        }
        queries = []
        for query in QUERIES:
            if query.name not in NOW_QUERIES:
                continue
            after = _bytes(athena, query.render(VIEW_REF), now)
            athena.athena(now)(history.render(history.view_sql().replace(history.RAW_HOUR_BOUND, ""), {"until": until}))
            before = _bytes(athena, query.render(VIEW_REF), now)
            athena.athena(now)(history.render(history.view_sql(), {"until": until}))
            queries.append({"query": query.name, "before_bytes": before, "after_bytes": after})
    finally:
        server.stop()
    ratios = [m["read_bytes"] / m["raw_bytes"] for m in merges if m["raw_bytes"]]
    return {
        "date": f"{dt.date.today()}",
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "agents": AGENTS,
        "minutes": MINUTES,
        "filters": len(filters),
        "watermark": until,
        "merges": merges,
        "merge_ratio_median": sorted(ratios)[len(ratios) // 2],
        "merge_ratio_max": max(ratios),
        "queries": queries,
        "refreshes": refreshes,
        "activity_rows": {
            table: {"rows": v["n"], "per_agent_day": v["n"] / max(v["agent_days"], 1)} for table, v in sizes.items()
        },
    }


def _merge(sql: str, read: int, snapshots: Path) -> dict:
    start = sql.split("snapshot_time >= TIMESTAMP '")[1][:19]
    stop = sql.split("snapshot_time < TIMESTAMP '")[1][:19]
    first, last = (dt.datetime.fromisoformat(t) for t in (start, stop))
    raw = 0
    hour = first
    while hour < last:
        raw += sum(p.stat().st_size for p in snapshots.glob(f"*/*/dt={hour:%Y-%m-%d}/hour={hour:%H}/*.json.gz"))
        hour += dt.timedelta(hours=1)
    return {"start": start, "stop": stop, "read_bytes": read, "raw_bytes": raw}


def _bytes(athena: TrinoAthena, sql: str, now: dt.datetime) -> int:
    athena.read.clear()
    athena.athena(now)(sql)
    return sum(read for _, read in athena.read)


def render(r: dict) -> str:
    kb = 1024
    lines = [
        "# History statements: bytes read, on Trino",
        "",
        f"Generated by `make bench-history` (`python -m benchmarks trino`) on {r['date']} ({r['machine']}): "
        f"{r['minutes']} one-minute snapshots of a moving {r['agents']}-agent center, {r['filters']} filters, compacted "
        "by the synthesized state machine on Trino 476 an hour at a time; bytes are Trino's `physicalInputBytes`, "
        "what Athena bills as data scanned.",
        "",
        f"Merges: bytes read against the raw bytes of the hours merged (look-back included): median "
        f"{r['merge_ratio_median']:.2f}x, max {r['merge_ratio_max']:.2f}x (target at most 1.3x).",
        "",
        "| period | raw of its hours | MERGE read | ratio |",
        "|---|---:|---:|---:|",
    ]
    for m in r["merges"]:
        lines.append(
            f"| {m['start']} .. {m['stop'][11:]} | {m['raw_bytes'] / kb:,.0f} KB | {m['read_bytes'] / kb:,.0f} KB "
            f"| {m['read_bytes'] / max(m['raw_bytes'], 1):.2f}x |"
        )
    lines += [
        "",
        f"Named queries about now, over the view with the watermark at {r['watermark']}: before, the view's raw side "
        "read the watermark's whole day; now it reads from the watermark's hour on.",
        "",
        "| query | before | after | saved |",
        "|---|---:|---:|---:|",
    ]
    for q in r["queries"]:
        lines.append(
            f"| {q['query']} | {q['before_bytes'] / kb:,.0f} KB | {q['after_bytes'] / kb:,.0f} KB "
            f"| {1 - q['after_bytes'] / max(q['before_bytes'], 1):.0%} |"
        )
    lines += [
        "",
        "Agent activity's refresh in each hourly run (the intervals MERGE, the activity DELETE and INSERT, over the "
        "period and its look-back) against the history MERGE of the same run:",
        "",
        "| run at | refresh read | history MERGE read |",
        "|---|---:|---:|",
    ]
    for f in r["refreshes"]:
        lines.append(f"| {f['hour']} | {f['read_bytes'] / kb:,.0f} KB | {f['merge_bytes'] / kb:,.0f} KB |")
    lines += ["", "| table | rows | rows per agent-day |", "|---|---:|---:|"]
    for table, v in r["activity_rows"].items():
        lines.append(f"| {table} | {v['rows']:,} | {v['per_agent_day']:.1f} |")
    return "\n".join(lines) + "\n"
