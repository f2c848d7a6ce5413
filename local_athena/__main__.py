"""`python -m local_athena compact|query|pictures --lake DIR`: the stack's compaction and queries on a local lake,
and agent activity's pictures."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import duckdb
import sqlglot

from connect_exporter.config import SAMPLE_SECONDS
from lake_sql.named import QUERIES
from lake_sql.queries import VIEW_REF

from .engine import to_duckdb
from .lake import Lake, LakeError, compact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_athena", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    comp = commands.add_parser("compact", help="merge every closed hour before --until into the history table")
    comp.add_argument("--lake", required=True, help="directory with snapshots/ (and history/ once compacted)")
    comp.add_argument("--until", help="ISO-8601 time to compact as of (default: now)")
    comp.add_argument(
        "--maintenance",
        action="store_true",
        help="the daily run's work too: reconcile raw against history first, then retention, OPTIMIZE, VACUUM",
    )
    comp.add_argument(
        "--reconcile-days",
        type=int,
        default=2,
        help="days of raw the reconciliation compares (deployment.history_reconcile_days)",
    )
    comp.add_argument("--retention-days", type=int, default=400, help="history's retention")
    comp.add_argument(
        "--activity-interval-minutes",
        type=int,
        choices=(15, 30, 60),
        default=15,
        help="agent_activity's interval (deployment.activity_interval_minutes)",
    )
    _sample_seconds(comp, "what one snapshot stands for in agent activity (deployment.sample_seconds)")
    query = commands.add_parser("query", help="run a named query or any Trino SQL over the lake's catalog")
    query.add_argument("--lake", required=True)
    which = query.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help=f"one of: {', '.join(q.name for q in QUERIES)}")
    which.add_argument("--sql", help='Trino SQL over "connect_user_data".(snapshots|history|user_data)')
    query.add_argument("--format", choices=("table", "json"), default="table")
    query.add_argument("--rows", type=int, default=20, help="rows shown as a table (json prints all)")
    query.add_argument("--today", help="date that current_date means, YYYY-MM-DD (default: today, UTC)")
    _sample_seconds(query, "what one snapshot stands for where a named query counts time (deployment.sample_seconds)")
    pictures = commands.add_parser("pictures", help="agent activity's timeline and occupancy heat map as PNG files")
    pictures.add_argument("--lake", required=True)
    pictures.add_argument("--out", default="docs", help="directory for activity-timeline.png and activity-occupancy.png")
    args = parser.parse_args(argv)
    lake = Lake(Path(args.lake))
    try:
        if args.command == "compact":
            return _compact(lake, args)
        if args.command == "pictures":
            from .pictures import render

            for name, path in render(lake, Path(args.out)).items():
                print(f"{name}: {path}", file=sys.stderr)
            return 0
        return _query(lake, args)
    except LakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _sample_seconds(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--sample-seconds", type=int, choices=SAMPLE_SECONDS, default=60, help=help)


def _compact(lake: Lake, args: argparse.Namespace) -> int:
    until = _time(args.until) if args.until else dt.datetime.now(dt.UTC)
    done = compact(
        lake,
        until,
        maintenance=args.maintenance,
        reconcile_days=args.reconcile_days,
        retention_days=args.retention_days,
        interval_minutes=args.activity_interval_minutes,
        sample_seconds=args.sample_seconds,
    )
    if done.reconciled_from:
        print(f"reconciled: raw holds rows history lacks from {done.reconciled_from}; merged again from there", file=sys.stderr)
    for step in done.steps:
        print(f"merged {step.start} .. {step.stop}: {step.merged_rows} new rows", file=sys.stderr)
    for day in done.expired_days:
        print(f"retention: dropped history of {day}", file=sys.stderr)
    print(
        f"history compacted as of {until:%Y-%m-%dT%H:%M:%SZ} in {len(done.steps)} step(s) -> {lake.history_file}", file=sys.stderr
    )
    return 0


def _query(lake: Lake, args: argparse.Namespace) -> int:
    if args.name:
        named = {q.name: q for q in QUERIES}
        if args.name not in named:
            raise LakeError(f"no named query {args.name}; there are {', '.join(named)}")
        sql = named[args.name].render(VIEW_REF, sample_seconds=args.sample_seconds)
    else:
        sql = args.sql
    today = dt.date.fromisoformat(args.today) if args.today else None
    con = lake.connect()
    try:
        relation = con.sql(to_duckdb(sql, today))
    except (duckdb.Error, sqlglot.errors.SqlglotError) as exc:  # one line naming what failed
        raise LakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    if args.format == "json":
        names = relation.columns
        for row in relation.fetchall():
            print(json.dumps(dict(zip(names, row, strict=True)), default=str))
    else:
        print(f"-- {args.name or 'sql'}: {len(relation)} rows")
        relation.limit(args.rows).show(max_width=200)
    return 0


def _time(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LakeError(f"--until: not an ISO-8601 time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


if __name__ == "__main__":
    raise SystemExit(main())
