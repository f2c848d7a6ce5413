"""`connect-exporter`: the Lambda's code path from a terminal (`snapshot`), and the checks to make before a
deploy (`validate`, `plan`).

snapshot: EMF documents go to stdout (as in Lambda), logs and the summary to stderr. Exit 0 when every
filter was written; 1 when some failed (the others are written); 2 for bad input (the config, --at, --out),
before any API call; 3 when none failed but some had already been written for this minute by an earlier run
(left as they were). No input ends in a traceback: each problem is one `error:` line naming it.
validate: the checks `cdk synth` makes on the config, no AWS call; exit 0, or 2 with one line per problem.
schema: the config file's JSON Schema on stdout (config/config.schema.json is this output).
plan: one snapshot of the configured instances, written nowhere unless --out, measured: fit, metrics, cost.
activity: agent_activity rows (CSV or JSON Lines) from a local lake or Athena; exit 0, or 2 with one line.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..clients import connect_client, s3_client
from ..config import ConfigError, ExporterConfig
from ..connect import ConnectApi
from ..directory import Directory
from ..observability import emit_emf, logger, use_human_logs
from ..sinks import DiscardSink, LocalSink, S3Sink, Sink, parse_destination
from ..snapshot import SnapshotReport, run_snapshot, snapshot_time
from .costs import PRICES, load_prices
from .deployment import config_schema, load_settings
from .plan import format_plan, make_plan
from .progress import terminal_progress


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connect-exporter",
        description="Amazon Connect agent data to S3 and CloudWatch: export a snapshot, validate a config, plan a deployment.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot", help="export one snapshot of every configured instance and filter")
    snap.add_argument("--config", required=True, help="exporter config JSON file")
    snap.add_argument("--out", required=True, help="local directory or s3://bucket/prefix")
    snap.add_argument("--at", help="snapshot time, ISO-8601 (default: now, truncated to the minute)")
    snap.add_argument("--quiet", action="store_true", help="no summary, warnings and errors only")
    check = commands.add_parser("validate", help="check the config as cdk synth would, without calling AWS")
    check.add_argument("--config", required=True, help="exporter config JSON file")
    commands.add_parser("schema", help="print the config file's JSON Schema (what editors check config files with)")
    plan = commands.add_parser(
        "plan", help="one snapshot, measured: does it fit the schedule, its custom metrics, its monthly cost"
    )
    plan.add_argument("--config", required=True, help="exporter config JSON file")
    plan.add_argument("--out", help="also write the snapshot here (local directory or s3://bucket/prefix)")
    plan.add_argument("--prices", help="JSON file of prices to use instead of the defaults: " + ", ".join(PRICES))
    plan.add_argument("--format", choices=("text", "json"), default="text", help="json: one object on stdout, for pipelines")
    act = commands.add_parser("activity", help="agent_activity rows for WFM tools, from the local lake or Athena")
    source = act.add_mutually_exclusive_group(required=True)
    source.add_argument("--lake", help="a local lake directory (python -m local_athena compact keeps its tables)")
    source.add_argument("--athena", nargs=2, metavar=("WORKGROUP", "DATABASE"), help="the stack's workgroup and database")
    act.add_argument("--from", dest="start", required=True, help="first interval, ISO-8601 date or date-time")
    act.add_argument("--to", dest="stop", required=True, help="end (exclusive), ISO-8601 date or date-time")
    act.add_argument("--interval", type=int, choices=(15, 30, 60), help="minutes; default: as the table holds them")
    act.add_argument("--timezone", help="IANA zone for --from/--to and an interval_start_local column (default UTC)")
    act.add_argument("--format", choices=("csv", "json"), default="csv", help="csv with a header, or JSON Lines")
    act.add_argument("--out", help="file to write (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    use_human_logs()
    try:
        commands = {"validate": _validate, "plan": _plan, "snapshot": _snapshot, "schema": _schema, "activity": _activity}
        return commands[args.command](args)
    except Exception as exc:  # a bug, not bad input: still one line, and the exit code says so
        print(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1


def _snapshot(args: argparse.Namespace) -> int:
    if args.quiet:
        logger.setLevel("WARNING")
    try:
        # The checks validate (and synth) make, deployment section included: what snapshot runs, deploys.
        config = load_settings(args.config).exporter
        at = snapshot_time(args.at)
        sink = _sink(args.out)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    report = _run(config, at, sink, emit_emf)
    if not args.quiet:
        print(format_summary(report), file=sys.stderr)
    return _exit_code(report)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    return " ".join(str(exc).split())


def _run(config: ExporterConfig, at: Any, sink: Sink, emit: Any) -> SnapshotReport:
    with terminal_progress(sys.stderr) as progress:
        return run_snapshot(
            config,
            at,
            ConnectApi(connect_client(), config.pacing),
            Directory(config.names_ttl_seconds),
            sink,
            emit=emit,
            progress=progress,
        )


def _exit_code(report: SnapshotReport) -> int:
    for failure in report.failures:
        print(f"error: instance {failure.instance_id} filter {failure.filter_name}: {failure.error}", file=sys.stderr)
    if report.failures:
        return 1
    return 3 if report.already_written else 0


def _validate(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:  # every one at once, in the order synth meets them (it stops at the first)
            print(f"error: {problem}", file=sys.stderr)
        return 2
    filters = sum(len(i.filters) for i in settings.exporter.instances)
    d = settings.deployment
    sampling = (
        f", a sample every {d.sample_seconds} s (at least {settings.exporter.least_calls_per_sample()} of the "
        f"{settings.exporter.calls_a_sample_can_make()} calls a sample can make), {d.alarm_period_seconds} s alarm periods"
        if d.sampling
        else ""
    )
    print(
        f"ok: {args.config}: {len(settings.exporter.instances)} instance(s), {filters} filter(s), "
        f"{d.schedule_expression}{sampling}, {len(settings.alarms)} slot alarm(s)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2))
    return 0


def _plan(args: argparse.Namespace) -> int:
    logger.setLevel("WARNING")  # the plan is the output; per-filter log lines would bury it
    try:
        settings = load_settings(args.config)
        prices = load_prices(args.prices) if args.prices else dict(PRICES)
        sink: Sink = _sink(args.out) if args.out is not None else DiscardSink()
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    documents: list[dict[str, Any]] = []

    def collect(batch: Iterable[dict[str, Any]]) -> int:
        batch = list(batch)
        documents.extend(batch)
        return emit_emf(batch, io.StringIO())  # the bytes CloudWatch Logs would ingest

    report = _run(settings.exporter, snapshot_time(), sink, collect)
    plan = make_plan(settings, report, documents, prices)
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(format_plan(plan))
    code = _exit_code(report)
    return 0 if code == 3 else code


def _sink(dest: str) -> Sink:
    """The destination, checked writable where that can be known before any API call (OSError if not)."""
    kind, where, prefix = parse_destination(dest)
    sink: Sink = S3Sink(s3_client(), where, prefix) if kind == "s3" else LocalSink(where)
    sink.check_writable()
    return sink


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


def _activity(args: argparse.Namespace) -> int:
    from lake_sql.activity import EXPORT_COLUMNS, export_sql

    from . import activity

    try:
        start, stop = activity.window(args.start, args.stop, args.timezone, args.interval)
        sql = export_sql(
            start, stop, args.interval, activity.database_name(args.athena[1]) if args.athena else "connect_user_data"
        )
        if args.lake:
            rows = activity.from_lake(args.lake, sql)
        else:
            client = boto3.client("athena")
            rows = activity.from_athena(client, sql, args.athena[0], args.athena[1], lambda line: print(line, file=sys.stderr))
        out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
        try:
            written = activity.write(
                activity.localized(rows, args.timezone), out, args.format, activity.columns(EXPORT_COLUMNS, args.timezone)
            )
        finally:
            if args.out:
                out.close()
    except (activity.ExportError, OSError, ClientError, BotoCoreError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    print(
        f"{written} row(s) of agent activity from {start} to {stop} UTC" + (f" in {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    if not written:
        print(
            "warning: no rows: agent_activity holds the hours compaction closed (locally: python -m local_athena compact), "
            "and --interval must be a multiple of the table's interval_minutes",
            file=sys.stderr,
        )
    return 0
