"""The Athena table and named queries, run locally: DuckDB over a snapshot tree, queries translated
from Athena's Trino dialect by sqlglot. Used by the Athena-answer test and `python -m simulator query`."""

from __future__ import annotations

import datetime as dt
import sys
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
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where `database.table` reads the tree as the Glue table declares it:
    these (name, Hive type) columns and partition keys, this SerDe timestamp format."""
    cols = {name: duckdb_type(kind) for name, kind in columns}
    parts = {name: duckdb_type(kind) for name, kind in partitions}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # Athena's session zone
    con.execute(f'CREATE SCHEMA "{database}"')
    con.execute(
        f'CREATE VIEW "{database}"."{table}" AS SELECT * FROM read_json('
        f"'{Path(root)}/**/*.json.gz', format = 'newline_delimited', hive_partitioning = true, "
        f"hive_types = {parts!r}, columns = {cols!r}, timestampformat = '{strptime_format(timestamp_format)}')"
    )
    return con


def to_duckdb(trino_sql: str, today: dt.date | None = None) -> str:
    """The query in DuckDB's dialect; with `today`, current_date is pinned to that date."""
    tree = sqlglot.parse_one(trino_sql, read="trino")
    if today is not None:
        pinned = exp.cast(exp.Literal.string(today.isoformat()), "date")
        tree = tree.transform(lambda node: pinned.copy() if isinstance(node, exp.CurrentDate) else node)
    return tree.sql("duckdb")


def run_query(con: duckdb.DuckDBPyConnection, trino_sql: str, today: dt.date | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(to_duckdb(trino_sql, today))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def print_queries(root: str, names: list[str] | None = None, rows: int = 10) -> int:
    """`python -m simulator query`: the stack's named queries over a local snapshot tree, as tables."""
    from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, TIMESTAMP_FORMAT_JAVA

    from infra.queries import DATABASE, QUERIES, TABLE, TABLE_REF

    if not any(Path(root).rglob("*.json.gz")):
        print(f"error: no snapshots under {root} (run `python -m simulator history` first)", file=sys.stderr)
        return 2
    unknown = sorted(set(names or ()) - {q.name for q in QUERIES})
    if unknown:
        print(f"error: no named query {', '.join(unknown)}; there are {', '.join(q.name for q in QUERIES)}", file=sys.stderr)
        return 2
    con = open_table(
        Path(root), [(c.name, c.type) for c in COLUMNS], [(c.name, c.type) for c in PARTITION_COLUMNS],
        TIMESTAMP_FORMAT_JAVA, DATABASE, TABLE,
    )
    for query in QUERIES:
        if names and query.name not in names:
            continue
        relation = con.sql(to_duckdb(query.render(TABLE_REF)))
        print(f"-- {query.name}: {query.description} ({len(relation)} rows)")
        relation.limit(rows).show(max_width=200)
    return 0
