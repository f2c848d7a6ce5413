"""The synthesized state machine's every statement, run on Trino as Athena would run it, beside the DuckDB lake
running the same definition: the same history, the same view, the same answers to every named query; then the
daily run (reconciliation, retention, OPTIMIZE, VACUUM) and a schema migration, on Trino's Iceberg."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from decimal import Decimal
from typing import Any

import pytest

from connect_exporter.schema import COLUMNS
from lake_sql import activity, history
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake
from tests.infrastructure import statemachine
from tests.infrastructure.test_history_stack import athena_on

from .athena import to_trino
from .conftest import deployed

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 24, 0, 55, tzinfo=UTC)  # 35 settle minutes: 22:00-00:00 closed, 00:00-01:09 raw
TODAY = NOW.date()
KEYS = "SELECT count(*) AS n, count(DISTINCT (instance_id, filter_name, snapshot_time, user_id)) AS k FROM {t}"
HISTORY = history.ref(history.HISTORY)


def normal(value: Any) -> Any:
    """One value as both engines' drivers hand it back, compared as an analyst would read it."""
    if isinstance(value, (float, Decimal)):
        return None if math.isnan(float(value)) else round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


def rows(result: list[dict]) -> list[dict]:
    return [normal(r) for r in result]


@pytest.fixture(scope="module")
def compacted(trino_server, template, snapshots):
    """Both engines after the hourly run at NOW, from the same snapshots and the same definition."""
    athena = deployed(trino_server, template)
    machine = statemachine.definition(template)
    data, statements = statemachine.run(machine, {"maintenance": False}, athena.athena(NOW))
    con = Lake(snapshots.parent).connect()
    local_data, _ = statemachine.run(machine, {"maintenance": False}, athena_on(con, NOW))
    yield athena, con, data, local_data, statements
    con.close()


def test_the_hourly_run_merges_closed_hours_on_trino_as_on_duckdb(compacted):
    athena, con, data, local_data, statements = compacted
    assert data["plan"] == local_data["plan"] and data["plan"]["until"] == "2026-11-24 00:00:00"
    # A first run looks back a week, a day a statement: every merge, watermark and view ran on Trino.
    verbs = [s.split(None, 1)[0] for s in statements]
    assert verbs.count("MERGE") == verbs.count("INSERT") > 0 and statements[-1].startswith("CREATE OR REPLACE VIEW")
    (merged,) = athena.execute(KEYS.format(t=HISTORY))
    assert merged["n"] == merged["k"] > 0
    assert athena.execute(f"SELECT max(snapshot_time) AS last FROM {HISTORY}") == [{"last": dt.datetime(2026, 11, 23, 23, 59)}]
    assert rows(athena.execute(KEYS.format(t=VIEW_REF))) == rows(athena.execute(KEYS.format(t=TABLE_REF)))
    assert rows(athena.execute(KEYS.format(t=HISTORY))) == rows(run_query(con, KEYS.format(t=HISTORY)))


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_every_named_query_answers_on_trino_as_on_duckdb_over_history_and_raw(compacted, query):
    athena, con, *_ = compacted
    on_trino = rows(athena.athena(NOW)(query.render(VIEW_REF)))
    on_duckdb = rows(run_query(con, query.render(VIEW_REF), today=TODAY, now=NOW))
    assert on_trino and on_trino == on_duckdb
    # The view (history before the watermark, raw after) answers as the raw snapshots alone do.
    assert on_trino == rows(athena.athena(NOW)(query.render(TABLE_REF)))


def test_agent_status_intervals_answer_on_trino_as_on_duckdb(compacted):
    """The intervals over the whole view in one query: window functions, max_by and date_diff in Trino's dialect."""
    athena, con, *_ = compacted
    sql = activity.status_intervals_sql(VIEW_REF)
    on_trino = rows(athena.athena(NOW)(sql))
    assert on_trino and on_trino == rows(run_query(con, sql, today=TODAY, now=NOW))
    assert any(r["end_exact"] for r in on_trino) and any(r["end_time"] is None for r in on_trino)


@pytest.mark.parametrize("table", [activity.INTERVALS, activity.ACTIVITY])
def test_the_state_machine_keeps_agent_activity_on_trinos_iceberg_as_on_duckdb(compacted, table):
    """The refresh's MERGE (conditional updates), DELETE and INSERT (UNNEST of a timestamp sequence, rows by
    position) ran on Trino's Iceberg connector and left the same rows as on DuckDB; the intervals table equals
    the one query over history."""
    athena, con, *_ = compacted
    order = "instance_id, user_id, " + ("start_time" if table == activity.INTERVALS else "interval_start, status_name")
    sql = f"SELECT * FROM {history.ref(table)} ORDER BY {order}"
    on_trino = rows(athena.execute(sql))
    assert on_trino and on_trino == rows(run_query(con, sql))
    if table == activity.INTERVALS:
        assert on_trino == rows(athena.execute(activity.status_intervals_sql(HISTORY)))
    else:
        assert sum(r["seconds"] for r in on_trino) > 0 and sum(r["voice_contacts"] for r in on_trino) > 0


def parquet_files(trino_server, day: str) -> list:
    return sorted((trino_server.lake / "history" / "history").rglob(f"dt={day}/*.parquet"))


def test_the_daily_run_drops_expired_days_and_vacuum_deletes_their_files(trino_server, template, snapshots):
    """Retention that frees storage: after the daily run, no file of an expired day is left, and the watermark
    table holds one row. (On Trino a whole-partition DELETE drops files from metadata; on Athena it writes
    position deletes, which the run's OPTIMIZE of that day rewrites away before VACUUM: only Athena shows that.)"""
    athena = deployed(trino_server, template)
    machine = statemachine.definition(template)
    statemachine.run(machine, {"maintenance": False}, athena.athena(NOW))
    assert parquet_files(trino_server, "2026-11-23")
    expiring = "SELECT count(*) AS n FROM {} WHERE dt < '2026-11-25'"
    assert all(athena.execute(expiring.format(history.ref(t)))[0]["n"] for t in activity.RETAINED)
    two_days_on = dt.datetime(2026, 11, 26, 3, 50, tzinfo=UTC)  # the daily run, history kept a day (the template's)
    data, statements = statemachine.run(machine, {"maintenance": True}, athena.athena(two_days_on))
    # Agent activity's tables leave with history: the same agents' data, kept no longer.
    assert [athena.execute(expiring.format(history.ref(t)))[0]["n"] for t in activity.RETAINED] == [0, 0, 0]
    dropped = [s for s in statements if s.startswith("DELETE FROM") and 'history" WHERE dt' in s]
    assert dropped == [f"DELETE FROM {HISTORY} WHERE dt = '2026-11-23'", f"DELETE FROM {HISTORY} WHERE dt = '2026-11-24'"]
    assert [s.split(" WHERE")[0] for s in statements if s.startswith("OPTIMIZE")].count(
        f"OPTIMIZE {history.ddl_ref(history.HISTORY)} REWRITE DATA USING BIN_PACK"
    ) == 3
    assert parquet_files(trino_server, "2026-11-23") == parquet_files(trino_server, "2026-11-24") == []
    assert athena.execute(f"SELECT count(*) AS n FROM {history.ref(history.WATERMARK)}") == [{"n": 1}]
    assert athena.execute(f'SELECT count(*) AS n FROM "{history.DATABASE}"."{history.HISTORY}$snapshots"')[0]["n"] == 1


def test_a_history_made_by_an_older_version_gets_the_new_columns_on_trinos_iceberg(trino_server, template, snapshots):
    athena = deployed(trino_server, template)
    older = tuple(c for c in COLUMNS if c.name != "next_status")
    for sql in to_trino(history.history_ddl("s3://REF/history/", record=older)):
        athena.execute(sql)
    data, statements = statemachine.run(statemachine.definition(template), {}, athena.athena(NOW))
    assert data["schema"]["missing"] == "next_status string"
    assert [s for s in statements if s.startswith("ALTER TABLE")] == [
        f"ALTER TABLE {history.ddl_ref(history.HISTORY)} ADD COLUMNS (next_status string)"
    ]
    (kept,) = athena.execute(f"SELECT count(next_status) AS n FROM {HISTORY}")
    (raw,) = athena.execute(
        f"SELECT count(next_status) AS n FROM {TABLE_REF} WHERE snapshot_time < TIMESTAMP '2026-11-24 00:00:00'"
    )
    assert kept == raw and raw["n"] > 0


def test_a_minute_written_after_its_look_back_reaches_history_at_the_daily_run(trino_server, template, snapshots):
    """Before: a raw minute landing after the 2-hour look-back stayed out of history, and the view (history
    before the watermark) hid it for good while it still sat in raw."""
    late = sorted(snapshots.rglob("snapshot-20261123T224500Z.json.gz"))  # the minute, of every filter
    aside = [snapshots.parent / f"late-{n}.json.gz" for n in range(len(late))]
    for path, away in zip(late, aside, strict=True):
        shutil.move(path, away)  # not written yet when its hour is compacted
    try:
        athena = deployed(trino_server, template)
        machine = statemachine.definition(template)
        statemachine.run(machine, {}, athena.athena(NOW))
        later = NOW + dt.timedelta(hours=3)  # 22:00 is now before the look-back
        statemachine.run(machine, {}, athena.athena(later))
    finally:
        for path, away in zip(late, aside, strict=True):
            shutil.move(away, path)  # a backfill lands it
    statemachine.run(machine, {}, athena.athena(later + dt.timedelta(hours=1)))
    minute = f"{VIEW_REF} WHERE snapshot_time = TIMESTAMP '2026-11-23 22:45:00'"
    assert athena.execute(f"SELECT count(*) AS n FROM {minute}") == [{"n": 0}]  # the hourly look-back cannot see it
    data, _ = statemachine.run(machine, {"maintenance": True}, athena.athena(later + dt.timedelta(hours=2)))
    assert data["resume"]["from"] == "2026-11-23 22:00:00"
    (seen,) = athena.execute(f"SELECT count(*) AS n FROM {minute}")
    (raw,) = athena.execute(f"SELECT count(*) AS n FROM {TABLE_REF} WHERE snapshot_time = TIMESTAMP '2026-11-23 22:45:00'")
    assert seen == raw and raw["n"] > 0
    assert rows(athena.execute(KEYS.format(t=VIEW_REF))) == rows(athena.execute(KEYS.format(t=TABLE_REF)))


def test_the_now_view_answers_on_trino_as_one_computation_over_user_data(compacted):
    """agent_status_intervals_now (the table, and from an hour before the watermark on computed live over the
    view's history and raw sides) on Trino: the same rows as over all of user_data at once, and as DuckDB's."""
    athena, con, *_ = compacted
    sql = f"SELECT * FROM {history.ref(activity.INTERVALS_NOW)} ORDER BY instance_id, user_id, start_time"
    on_trino = rows(athena.athena(NOW)(sql))
    assert on_trino and on_trino == rows(athena.athena(NOW)(activity.status_intervals_sql(VIEW_REF)))
    assert on_trino == rows(run_query(con, sql))
