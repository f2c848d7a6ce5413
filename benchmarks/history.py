"""`python -m benchmarks history` (`make bench-history`): raw minute snapshots against the compacted history, over a day.

A day of one-minute snapshots of a moving 1,000-agent center (the benchmark's four filters) is exported
into a local lake, compacted an hour at a time by the stack's own SQL (`python -m local_athena`), and
the history is written as Parquet (ZSTD, partitioned like the Iceberg table) to count its files and
bytes. Every named query then runs over raw and over history, and what Athena would scan and bill for a
30-day question is modelled from the bytes each side would read. Results go to
`docs/benchmarks-history.md`. Minutes, by design: not part of the test suite.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from connect_exporter.observability import logger
from connect_exporter.schema import COLUMNS
from lake_sql.history import HISTORY, ref
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE_REF
from local_athena.engine import to_duckdb
from local_athena.lake import Lake, compact
from simulator.history import export_history
from simulator.world import build_instance

from .snapshot import HISTORY_MARK, bench_filters

REPO = Path(__file__).resolve().parents[1]
DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
AGENTS = 1000
ATHENA_PER_TB, ATHENA_MIN_BYTES = 5.0, 10 * 1024**2  # us-east-1 list price; Athena bills at least 10 MB a query
PARQUET_REF = '"connect_user_data"."history_parquet"'


def main(minutes: int = 1440) -> int:
    logger.setLevel("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-history-") as folder:
        result = measure(Lake(Path(folder)), minutes)
    publish(result)
    print(render(result))
    return 0


def measure(lake: Lake, minutes: int) -> dict[str, Any]:
    work = lake.root
    instance = build_instance(seed=7, agents=AGENTS, routing_profiles=60, queues=100, epoch=DAY)
    started = time.perf_counter()
    export_history(instance, bench_filters(instance, 3), DAY, minutes, lake.snapshots, lambda docs: 0)
    export_seconds = time.perf_counter() - started
    raw_files = list(lake.snapshots.rglob("*.json.gz"))
    raw_bytes = sum(p.stat().st_size for p in raw_files)

    periods = []
    for hour in range(1, minutes // 60 + 1):
        started = time.perf_counter()
        compact(lake, DAY + dt.timedelta(hours=hour))
        periods.append(time.perf_counter() - started)
    con = lake.connect()
    parquet = work / "history-parquet"
    con.execute(
        f"COPY (SELECT * FROM {ref(HISTORY)}) TO '{parquet}' "
        "(FORMAT parquet, PARTITION_BY (instance_id, filter_name, dt), COMPRESSION zstd)"
    )
    parquet_files = list(parquet.rglob("*.parquet"))
    parquet_bytes = sum(p.stat().st_size for p in parquet_files)
    con.execute(
        f"CREATE OR REPLACE VIEW {PARQUET_REF} AS SELECT * FROM read_parquet('{parquet}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)"
    )
    column_bytes = dict(
        con.execute(
            f"SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata('{parquet}/**/*.parquet') GROUP BY 1"
        ).fetchall()
    )
    days = minutes / 1440

    rows = []
    for query in (q for q in QUERIES if q.reads_snapshots):  # agent activity's read its own tables
        times = {}
        for side, table in (("raw", TABLE_REF), ("history", PARQUET_REF)):
            sql = to_duckdb(query.render(table), DAY.date())
            best = min(_timed(con, sql) for _ in range(2))
            times[side] = best
        columns = _columns(query.render(TABLE_REF))
        history_day = sum(v for k, v in column_bytes.items() if k.split(".")[0] in columns) / days
        raw_day = raw_bytes / days
        rows.append(
            {
                "query": query.name,
                "raw_s": times["raw"],
                "history_s": times["history"],
                "columns": sorted(columns),
                **{
                    f"{side}_30d_{n}k_bytes": per_day * 30 * n
                    for side, per_day in (("raw", raw_day), ("history", history_day))
                    for n in (1, 10)
                },
            }
        )
    con.close()
    return {
        "date": f"{dt.date.today()}",
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "agents": AGENTS,
        "minutes": minutes,
        "filters": 4,
        "export_seconds": export_seconds,
        "raw": {"objects": len(raw_files), "bytes": raw_bytes},
        "history": {"files": len(parquet_files), "bytes": parquet_bytes},
        "compaction_seconds_per_hour": {"median": sorted(periods)[len(periods) // 2], "max": max(periods)},
        "queries": rows,
    }


def publish(result: dict) -> None:
    """docs/benchmarks-history.md and .json, and the same tables as the last section of docs/benchmarks.md."""
    docs = REPO / "docs"
    (docs / "benchmarks-history.json").write_text(json.dumps(result, indent=2) + "\n")
    (docs / "benchmarks-history.md").write_text(render(result))
    main_report = docs / "benchmarks.md"
    before = main_report.read_text().partition(HISTORY_MARK)[0] if main_report.exists() else ""
    main_report.write_text(
        before + HISTORY_MARK + render(result).replace("# History tier benchmark", "## History tier: raw against history", 1)
    )


def _timed(con: Any, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - started


def _columns(trino_sql: str) -> set[str]:
    """The record columns a query reads (partition columns cost nothing: they are in the path)."""
    names = {c.name for c in COLUMNS}
    return {c.name for c in sqlglot.parse_one(trino_sql, read="trino").find_all(exp.Column)} & names


def _dollars(n_bytes: float) -> float:
    return max(n_bytes, ATHENA_MIN_BYTES) / 1e12 * ATHENA_PER_TB


def render(r: dict) -> str:
    mb = 1024**2
    lines = [
        "# History tier benchmark",
        "",
        f"Generated by `make bench-history` on {r['date']} ({r['machine']}). A day ({r['minutes']} one-minute snapshots) "
        f"of a moving {r['agents']:,}-agent center with the benchmark's {r['filters']} filters (all agents and three "
        f"ten-queue filters) was exported in {r['export_seconds']:.0f} s into a local lake, compacted an hour at a time "
        "by the stack's compaction SQL (`python -m local_athena compact`, DuckDB), and the history written as Parquet "
        "(ZSTD), partitioned like the Iceberg table (instance, filter, day).",
        "",
        "| tier | files | bytes |",
        "|---|---:|---:|",
        f"| raw gzip JSON (one object per filter per minute) | {r['raw']['objects']:,} | {r['raw']['bytes'] / mb:,.1f} MB |",
        f"| history Parquet | {r['history']['files']:,} | {r['history']['bytes'] / mb:,.1f} MB |",
        "",
        f"Compaction of one hour, locally: median {r['compaction_seconds_per_hour']['median']:.2f} s, "
        f"max {r['compaction_seconds_per_hour']['max']:.2f} s (plan, merge, agent activity, watermark).",
        "",
        "## Named queries: local time, and what Athena would scan for 30 days",
        "",
        "Local time is DuckDB over the day (best of two). Athena bytes are modelled: over raw, Athena opens and reads "
        "every gzip JSON object of the range whole; over history it reads only the Parquet column chunks a query "
        "names (partition columns are free). 30 days at 10,000 agents scales the day linearly. Dollars at "
        f"${ATHENA_PER_TB:.2f} per TB scanned, 10 MB minimum per query.",
        "",
        "| query | raw s | history s | speed-up | 30 d @ 1k: raw | history | 30 d @ 10k: raw | history | $ raw @ 10k | $ history @ 10k |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    gb = 1024**3
    for q in r["queries"]:
        lines.append(
            f"| {q['query']} | {q['raw_s']:.3f} | {q['history_s']:.3f} | {q['raw_s'] / max(q['history_s'], 1e-6):.0f}x "
            f"| {q['raw_30d_1k_bytes'] / gb:.2f} GB | {q['history_30d_1k_bytes'] / gb:.2f} GB "
            f"| {q['raw_30d_10k_bytes'] / gb:.1f} GB | {q['history_30d_10k_bytes'] / gb:.2f} GB "
            f"| ${_dollars(q['raw_30d_10k_bytes']):.3f} | ${_dollars(q['history_30d_10k_bytes']):.4f} |"
        )
    lines += [
        "",
        "Columns each query reads from history: " + "; ".join(f"{q['query']}: {', '.join(q['columns'])}" for q in r["queries"]),
        "",
    ]
    return "\n".join(lines)
