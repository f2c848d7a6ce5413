"""`python -m connect_exporter snapshot`: the Lambda's code path, run from a terminal.

EMF documents go to stdout (as in Lambda), logs and the summary to stderr. Exit 0 when every filter
was written; 1 when some failed (the others are written); 2 for bad input, before any API call; 3 when
none failed but some had already been written for this minute by an earlier run (left as they were).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .clients import connect_client, s3_client
from .config import ConfigError, load_config
from .directory import Directory
from .observability import logger, use_human_logs
from .pager import ConnectApi
from .sinks import LocalSink, S3Sink, Sink, parse_destination
from .snapshot import SnapshotReport, run_snapshot, snapshot_time


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connect_exporter", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot", help="export one snapshot of every configured instance and filter")
    snap.add_argument("--config", required=True, help="exporter config JSON file")
    snap.add_argument("--out", required=True, help="local directory or s3://bucket/prefix")
    snap.add_argument("--at", help="snapshot time, ISO-8601 (default: now, truncated to the minute)")
    snap.add_argument("--quiet", action="store_true", help="no summary, warnings and errors only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    use_human_logs()
    if args.quiet:
        logger.setLevel("WARNING")
    try:
        config = load_config(args.config)
        at = snapshot_time(args.at)
        sink = _sink(args.out)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run_snapshot(config, at, ConnectApi(connect_client(), config.pacing), Directory(config.names_ttl_seconds), sink)
    if not args.quiet:
        print(format_summary(report), file=sys.stderr)
    for failure in report.failures:
        print(f"error: instance {failure.instance_id} filter {failure.filter_name}: {failure.error}", file=sys.stderr)
    if report.failures:
        return 1
    return 3 if report.already_written else 0


def _sink(dest: str) -> Sink:
    kind, where, prefix = parse_destination(dest)
    if kind == "s3":
        return S3Sink(s3_client(), where, prefix)
    return LocalSink(where)


def format_summary(report: SnapshotReport) -> str:
    """A short table a person can read: agents per status and slots per channel, per filter."""
    stats = report.api_stats
    by_op = ", ".join(f"{op} {n}" for op, n in sorted(stats.calls.items()))
    lines = [
        f"Snapshot {report.snapshot_time:%Y-%m-%dT%H:%M:%SZ}: {len(report.written)}/{len(report.outcomes)} filters written"
        + (f", {len(report.already_written)} already written" if report.already_written else "")
        + f", {sum(o.records for o in report.outcomes)} records, "
        f"{stats.total_calls} API calls ({by_op}), {stats.throttles} throttled, {report.duration_seconds:.1f} s",
    ]
    for o in report.outcomes:
        head = f"  {o.instance_id} / {o.filter_name}:"
        if o.already_written:
            lines.append(f"{head} already written by an earlier run, left as it was -> {o.uri}")
            continue
        if not o.ok or o.summary is None:
            lines.append(f"{head} FAILED {o.error}")
            continue
        s = o.summary
        lines.append(f"{head} {s.agents} agents -> {o.uri}")
        statuses = ", ".join(f"{name} {n}" for name, n in sorted(s.by_status.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"      status: {statuses or '-'}")
        slots = "  ".join(f"{ch} {s.available.get(ch, 0)}/{s.max.get(ch, 0)}/{s.active.get(ch, 0)}" for ch in sorted(s.max))
        lines.append(f"      slots available/max/active: {slots}")
        if o.short_of_total:
            lines.append(f"      {o.short_of_total} agents counted by the API but not received (logged out mid-page?)")
    return "\n".join(lines)
