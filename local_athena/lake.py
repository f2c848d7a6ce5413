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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, TIMESTAMP_FORMAT_JAVA
from lake_sql import activity, history
from lake_sql.queries import DATABASE, TABLE

from .engine import open_table, run_query, to_duckdb


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
            raise LakeError(
                f"no snapshots under {self.snapshots} (write some with `connect_exporter snapshot --out {self.snapshots}`)"
            )
        self.history_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.history_file))
        except duckdb.IOException as exc:  # another compact or query holds the file
            raise LakeError(f"{self.history_file}: {str(exc).splitlines()[0]}") from None
        open_table(
            self.snapshots,
            [(c.name, c.type) for c in COLUMNS],
            [(c.name, c.type) for c in PARTITION_COLUMNS],
            TIMESTAMP_FORMAT_JAVA,
            DATABASE,
            TABLE,
            con=con,
        )
        location = f"{self.root.resolve()}/"
        for ddl in (
            history.history_ddl(location),
            history.watermark_ddl(location),
            activity.intervals_ddl(location),
            activity.activity_ddl(location),
        ):
            con.execute(ddl_to_duckdb(ddl))
        # As the state machine does before it plans: a history made by an older version gets the new columns.
        (found,) = run_query(con, history.missing_columns_sql())
        if found["missing"] != "none":
            con.execute(ddl_to_duckdb(history.render(history.add_columns_sql(), found)))
        until = _scalar(con, f"SELECT max(compacted_until) FROM {history.ref(history.WATERMARK)}")
        mark = {"until": f"{until:%Y-%m-%d %H:%M:%S}" if until else history.EPOCH}
        for view in (history.view_sql(), activity.intervals_now_view_sql()):
            con.execute(to_duckdb(history.render(view, mark)))
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


def run_statement(con: duckdb.DuckDBPyConnection, sql: str, now: dt.datetime) -> list[dict[str, Any]]:
    """What Athena does with one of the stack's statements at `now`, done by DuckDB: DDL translated, DML and
    queries through sqlglot; Iceberg's file maintenance (OPTIMIZE, VACUUM, its table properties) has no local
    meaning (one DuckDB file holds the tables: a DELETE frees its rows at the next checkpoint)."""
    verb = sql.split(None, 1)[0].upper()
    if verb in ("OPTIMIZE", "VACUUM") or re.match(r"ALTER TABLE \S+ SET TBLPROPERTIES", sql):
        return []
    if sql.startswith(("CREATE TABLE", "ALTER TABLE")):
        con.execute(ddl_to_duckdb(sql))
        return []
    cursor = con.execute(to_duckdb(sql, now=now))
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()] if verb in ("WITH", "SELECT") else []


@dataclass(frozen=True)
class Step:
    start: str
    stop: str
    merged_rows: int


@dataclass
class Compaction:
    steps: list[Step]
    reconciled_from: str | None = None  # the first short hour the daily reconciliation found
    expired_days: list[str] = field(default_factory=list)


def compact(
    lake: Lake,
    until: dt.datetime,
    maintenance: bool = False,
    reconcile_days: int = 2,
    retention_days: int = 400,
    interval_minutes: int = activity.INTERVAL_MINUTES,
    sample_seconds: int = activity.SAMPLE_SECONDS,
) -> Compaction:
    """What the stack's state machine does, as of `until`, statement for statement: plan, merge, refresh agent
    activity, advance the watermark, rebuild the view, until no hour closed before `until` is left. `maintenance` adds the daily
    run's: reconciliation first, then watermark trim, retention a day a pass, OPTIMIZE and VACUUM. Each
    statement commits on its own, as on Athena."""
    con = lake.connect()
    run = lambda sql: run_statement(con, sql, until)  # noqa: E731
    out = Compaction(steps=[])
    try:
        resume = {"from": history.NEVER, "after": history.EPOCH}
        if maintenance:
            for table in (history.HISTORY, history.WATERMARK):
                run(history.properties_sql(table))
            (found,) = run(history.reconcile_sql(days=reconcile_days))
            resume["from"] = found["from"]
            out.reconciled_from = None if found["from"] == history.NEVER else found["from"]
        while True:
            (plan,) = run(history.render(history.plan_sql(settle_minutes=0), resume))
            if plan["work"] == "yes":
                before = _count(con)
                run(history.render(history.merge_sql(), plan))
                for sql in activity.refresh_sql(interval_minutes=interval_minutes, sample_seconds=sample_seconds):
                    run(history.render(sql, plan))
                run(history.render(history.watermark_sql(), plan))
                out.steps.append(Step(plan["start"], plan["stop"], _count(con) - before))
            run(history.render(history.view_sql(), plan))
            run(history.render(activity.intervals_now_view_sql(), plan))
            if plan["more"] != "yes":
                break
            resume = {"from": resume["from"], "after": plan["stop"]}
        if maintenance:
            run(history.render(history.trim_watermark_sql(), plan))
            find_expired = history.expired_sql(retention_days=retention_days, tables=activity.RETAINED)
            while (expired := run(find_expired)[0])["dt"] != "none":
                for table in activity.RETAINED:
                    run(history.render(history.retention_sql(table=table), expired))
                    run(history.render(history.optimize_expired_sql(table=table), expired))
                out.expired_days.append(expired["dt"])
            for sql in (
                history.render(history.optimize_yesterday_sql(), plan),
                history.optimize_sql(table=history.WATERMARK),
                history.render(activity.optimize_yesterday_sql(activity.INTERVALS), plan),
                history.render(activity.optimize_yesterday_sql(activity.ACTIVITY), plan),
                history.vacuum_sql(),
                history.vacuum_sql(table=history.WATERMARK),
                history.vacuum_sql(table=activity.INTERVALS),
                history.vacuum_sql(table=activity.ACTIVITY),
            ):
                run(sql)
        return out
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return int(_scalar(con, f"SELECT count(*) FROM {history.ref(history.HISTORY)}"))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None
