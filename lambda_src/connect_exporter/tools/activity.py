"""`connect-exporter activity`: agent_activity rows for workforce-management tools, as CSV or JSON Lines.

The rows come from the local lake (DuckDB, `--lake`) or from Athena (`--athena WORKGROUP DATABASE`), by the same
statement (`lake_sql.activity.export_sql`). Over Athena the query's bytes scanned and cost are printed before the
rows stream out page by page; nothing is held in memory but a page.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .costs import ATHENA_MIN_BYTES, PRICES, TB

ATHENA_POLL_SECONDS = 1.0
ATHENA_TIMEOUT_SECONDS = 900.0


class ExportError(Exception):
    """Bad input or a failed query, in one line."""


def parse_time(value: str, zone: ZoneInfo, flag: str) -> dt.datetime:
    """A date or date-time (ISO-8601) in `zone` unless it carries an offset; returned in UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{flag} {value!r} is not an ISO-8601 date or date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(f"--timezone {name!r} is not an IANA time zone (for example Europe/Paris)") from None


def window(start: str, stop: str, zone_name: str | None, interval: int | None) -> tuple[str, str]:
    """--from and --to as the statement takes them (UTC), checked."""
    zone = time_zone(zone_name)
    first, last = parse_time(start, zone, "--from"), parse_time(stop, zone, "--to")
    if last <= first:
        raise ExportError(f"--to {stop!r} is not after --from {start!r}")
    if interval and (first.minute % interval or first.second):
        raise ExportError(f"--from {start!r} is not on a {interval}-minute boundary in UTC")
    return f"{first:%Y-%m-%d %H:%M:%S}", f"{last:%Y-%m-%d %H:%M:%S}"


def database_name(name: str) -> str:
    """The --athena database, as Glue names one (it is written into the statement)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,254}", name):
        raise ExportError(f"--athena DATABASE {name!r} is not a Glue database name (a-z 0-9 _, starting with a letter)")
    return name


def localized(rows: Iterable[dict[str, Any]], zone_name: str | None) -> Iterator[dict[str, Any]]:
    """interval_start as ISO-8601 UTC, and with --timezone `interval_start_local` right after it."""
    zone = time_zone(zone_name) if zone_name else None
    for row in rows:
        out: dict[str, Any] = {}
        for name, value in row.items():
            if name != "interval_start":
                out[name] = value
                continue
            start = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
            start = start.replace(tzinfo=dt.UTC) if start.tzinfo is None else start.astimezone(dt.UTC)
            out[name] = start.isoformat().replace("+00:00", "Z")
            if zone is not None:
                out["interval_start_local"] = start.astimezone(zone).isoformat()
        yield out


def columns(names: Iterable[str], zone_name: str | None) -> list[str]:
    """The export's columns: the table's, with `interval_start_local` after interval_start under --timezone."""
    out = []
    for name in names:
        out.append(name)
        if name == "interval_start" and zone_name:
            out.append("interval_start_local")
    return out


def write(rows: Iterable[dict[str, Any]], out: IO[str], fmt: str, columns: list[str]) -> int:
    """Rows as CSV (a header, then one line a row) or JSON Lines; returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, default=str) + "\n")
            count += 1
    return count


def from_lake(lake_dir: str, sql: str) -> Iterator[dict[str, Any]]:
    """The statement on the local lake's DuckDB (what `python -m local_athena compact` keeps), run now; its rows
    as they are read. A problem is raised here, before any output."""
    try:
        from local_athena.engine import to_duckdb
        from local_athena.lake import Lake, LakeError
    except ImportError as exc:  # the installed CLI without the lake's extras
        raise ExportError(
            f"--lake needs DuckDB and sqlglot: pip install 'connect-user-data-exporter[lake]' ({exc.name})"
        ) from None
    if not Path(lake_dir).is_dir():
        raise ExportError(f"--lake {lake_dir}: no such directory")
    try:
        con = Lake(Path(lake_dir)).connect()
    except LakeError as exc:
        raise ExportError(str(exc)) from None
    cursor = con.execute(to_duckdb(sql))
    return _batches(con, cursor)


def _batches(con: Any, cursor: Any) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    try:
        while batch := cursor.fetchmany(1000):
            yield from (dict(zip(names, row, strict=True)) for row in batch)
    finally:
        con.close()


_ATHENA_TYPES: dict[str, Callable[[str], Any]] = {
    "double": float,
    "float": float,
    "decimal": float,
    "bigint": int,
    "integer": int,
    "int": int,
    "smallint": int,
    "tinyint": int,
    "boolean": lambda v: v == "true",
}


def from_athena(
    client: Any, sql: str, workgroup: str, database: str, say: Callable[[str], None], sleep: Callable[[float], None] = time.sleep
) -> Iterator[dict[str, Any]]:
    """Run the statement in the workgroup (its result location and encryption) and wait for it; say what it
    scanned and cost; then its rows page by page, typed as Athena declares them. A failure is raised here."""
    started = client.start_query_execution(QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": database})[
        "QueryExecutionId"
    ]
    waited = 0.0
    while True:
        execution = client.get_query_execution(QueryExecutionId=started)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        if waited >= ATHENA_TIMEOUT_SECONDS:
            client.stop_query_execution(QueryExecutionId=started)
            raise ExportError(f"athena: query {started} still {state} after {ATHENA_TIMEOUT_SECONDS:.0f} s: stopped")
        sleep(ATHENA_POLL_SECONDS)
        waited += ATHENA_POLL_SECONDS
    if state != "SUCCEEDED":
        reason = " ".join(str(execution["Status"].get("StateChangeReason", "")).split())
        raise ExportError(f"athena: query {started} {state}: {reason}")
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    cost = max(scanned, ATHENA_MIN_BYTES) / TB * PRICES["athena_tb_scanned"]  # Athena bills 10 MB at least
    say(f"athena: query {started} scanned {scanned / 1024**2:,.1f} MB, about ${cost:.5f}")
    return _pages(client, started)


def _pages(client: Any, started: str) -> Iterator[dict[str, Any]]:
    header: list[str] | None = None
    for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=started):
        info = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        casts = [_ATHENA_TYPES.get(c["Type"].lower(), str) for c in info]
        for row in page["ResultSet"]["Rows"]:
            values = [d.get("VarCharValue") for d in row["Data"]]
            if header is None:  # the first row of the first page names the columns
                header = [str(v) for v in values]
                continue
            yield {name: None if v is None else cast(v) for name, cast, v in zip(header, casts, values, strict=True)}
