"""A local lake: a directory laid out like the bucket, with the stack's catalog over it in DuckDB.

`<lake>/snapshots/` holds raw snapshots (what `connect_exporter snapshot --out <lake>/snapshots`
writes); `<lake>/history/` holds the history and watermark tables (a DuckDB file: Iceberg's local
stand-in, transactional like it). Every statement is the stack's own SQL from `lake_sql.history` and
`lake_sql.queries`, translated from Trino to DuckDB by sqlglot: nothing here is a second copy of a query.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, TIMESTAMP_FORMAT_JAVA

from lake_sql import history
from lake_sql.queries import DATABASE, TABLE

from .engine import open_table, run_query, to_duckdb

EPOCH = "1970-01-01 00:00:00"  # the watermark before the first compaction: the view reads raw only


class LakeError(Exception):
    """A problem with the lake a user named, in one line."""


@dataclass(frozen=True)
class Lake:
    root: Path

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def history_file(self) -> Path:
        return self.root / "history" / "lake.duckdb"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """The catalog as Glue has it: `snapshots` (raw), `history`, `history_watermark`, and the view
        `user_data` built by the stack's view statement from the stored watermark."""
        if not any(self.snapshots.rglob("*.json.gz")):
            raise LakeError(f"no snapshots under {self.snapshots} (write some with `connect_exporter snapshot --out {self.snapshots}`)")
        self.history_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.history_file))
        except duckdb.IOException as exc:  # another compact or query holds the file
            raise LakeError(f"{self.history_file}: {str(exc).splitlines()[0]}") from None
        open_table(self.snapshots, [(c.name, c.type) for c in COLUMNS], [(c.name, c.type) for c in PARTITION_COLUMNS],
                   TIMESTAMP_FORMAT_JAVA, DATABASE, TABLE, con=con)
        location = f"{self.root.resolve()}/"
        for ddl in (history.history_ddl(location), history.watermark_ddl(location)):
            con.execute(ddl_to_duckdb(ddl))
        # As the state machine does before it plans: a history made by an older version gets the new columns.
        (found,) = run_query(con, history.missing_columns_sql())
        if found["missing"] != "none":
            con.execute(ddl_to_duckdb(history.render(history.add_columns_sql(), found)))
        until = _scalar(con, f"SELECT max(compacted_until) FROM {history.ref(history.WATERMARK)}")
        con.execute(to_duckdb(history.render(history.view_sql(), {"until": f"{until:%Y-%m-%d %H:%M:%S}" if until else EPOCH})))
        return con


def ddl_to_duckdb(ddl: str) -> str:
    # Iceberg's LOCATION, PARTITIONED BY and TBLPROPERTIES have no DuckDB meaning: sqlglot drops them (quietly).
    import sqlglot

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    added = re.fullmatch(r"ALTER TABLE (\S+) ADD COLUMNS \((.*)\)", ddl.strip(), re.S)
    if added:  # Hive's ADD COLUMNS (a t, b u): DuckDB adds one column a statement
        columns = sqlglot.parse_one(f"CREATE TABLE t ({added[2]})", read="athena").this.expressions
        return "; ".join(f"ALTER TABLE {added[1]} ADD COLUMN {column.sql('duckdb')}" for column in columns)
    return sqlglot.transpile(ddl, read="athena", write="duckdb", unsupported_level=sqlglot.ErrorLevel.IGNORE)[0]


@dataclass(frozen=True)
class Step:
    start: str
    stop: str
    merged_rows: int


def compact(lake: Lake, until: dt.datetime) -> list[Step]:
    """What the stack's state machine does, as of `until`: plan, merge, advance the watermark, until no
    hour closed before `until` is left. Each statement commits on its own, as on Athena."""
    con = lake.connect()
    steps = []
    try:
        while True:
            (plan,) = run_query(con, history.plan_sql(settle_minutes=0), now=until)
            if plan["work"] == "yes":
                before = _count(con)
                con.execute(to_duckdb(history.render(history.merge_sql(), plan)))
                con.execute(to_duckdb(history.render(history.watermark_sql(), plan)))
                steps.append(Step(plan["start"], plan["stop"], _count(con) - before))
            if plan["more"] != "yes":
                return steps
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return int(_scalar(con, f"SELECT count(*) FROM {history.ref(history.HISTORY)}"))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None
