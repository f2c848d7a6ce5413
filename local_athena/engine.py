"""Athena's dialect on DuckDB: the raw table read as Glue declares it, and Trino SQL translated by sqlglot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

# Java SimpleDateFormat (the SerDe's timestamp.formats) -> DuckDB strptime, for the patterns the schema uses.
_JAVA_TO_STRPTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"), ("SSS", "%g"))


def strptime_format(java_format: str) -> str:
    out = java_format.replace("'", "")
    for java, c in _JAVA_TO_STRPTIME:
        out = out.replace(java, c)
    return out


def duckdb_type(hive_type: str) -> str:
    return exp.DataType.build(hive_type, dialect="hive").sql("duckdb")


def open_table(
    root: Path,
    columns: Iterable[tuple[str, str]],
    partitions: Iterable[tuple[str, str]],
    timestamp_format: str,
    database: str,
    table: str,
    con: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where `database.table` reads the tree as the Glue table declares it:
    these (name, Hive type) columns and partition keys, this SerDe timestamp format."""
    cols = {name: duckdb_type(kind) for name, kind in columns}
    parts = {name: duckdb_type(kind) for name, kind in partitions}
    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # Athena's session zone
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
    con.execute(
        f'CREATE OR REPLACE VIEW "{database}"."{table}" AS SELECT * FROM read_json('
        f"'{Path(root).resolve()}/**/*.json.gz', format = 'newline_delimited', hive_partitioning = true, "
        f"hive_types = {parts!r}, columns = {cols!r}, timestampformat = '{strptime_format(timestamp_format)}')"
    )
    return con


def to_duckdb(trino_sql: str, today: dt.date | None = None, now: dt.datetime | None = None) -> str:
    """The statement in DuckDB's dialect; `now` pins current_timestamp (UTC) and current_date (its day, unless
    `today` names another): a statement reads one clock, as on Athena."""
    if now is not None and today is None:
        today = now.astimezone(dt.UTC).date()
    tree = sqlglot.parse_one(trino_sql, read="trino")
    pins: dict[type, exp.Expression] = {}
    if today is not None:
        pins[exp.CurrentDate] = exp.cast(exp.Literal.string(today.isoformat()), "date")
    if now is not None:
        pins[exp.CurrentTimestamp] = exp.cast(exp.Literal.string(f"{now.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"), "timestamp")
    if pins:
        tree = tree.transform(lambda node: pins[type(node)].copy() if type(node) in pins else node)
    return tree.sql("duckdb")


def run_query(
    con: duckdb.DuckDBPyConnection, trino_sql: str, today: dt.date | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(to_duckdb(trino_sql, today, now))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
