"""The synthesized state machine's every statement, run on Trino as Athena would run it, beside the DuckDB lake
running the same definition: the same history, the same view, the same answers to every named query."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest

from lake_sql import history
from lake_sql.queries import QUERIES, TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake
from tests.infrastructure import statemachine
from tests.infrastructure.test_history_stack import athena_on

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 24, 0, 55, tzinfo=UTC)  # 35 settle minutes: 22:00-00:00 closed, 00:00-01:09 raw
TODAY = NOW.date()
KEYS = "SELECT count(*) AS n, count(DISTINCT (instance_id, filter_name, snapshot_time, user_id)) AS k FROM {t}"


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


@pytest.fixture
def compacted(athena, template, snapshots):
    """Both engines after the hourly run at NOW, from the same snapshots and the same definition."""
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
    table = history.ref(history.HISTORY)
    (merged,) = athena.execute(KEYS.format(t=table))
    assert merged["n"] == merged["k"] > 0
    assert athena.execute(f"SELECT max(snapshot_time) AS last FROM {table}") == [{"last": dt.datetime(2026, 11, 23, 23, 59)}]
    assert rows(athena.execute(KEYS.format(t=VIEW_REF))) == rows(athena.execute(KEYS.format(t=TABLE_REF)))
    assert rows(athena.execute(KEYS.format(t=table))) == rows(run_query(con, KEYS.format(t=table)))


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_every_named_query_answers_on_trino_as_on_duckdb_over_history_and_raw(compacted, query):
    athena, con, *_ = compacted
    on_trino = rows(athena.athena(NOW)(query.render(VIEW_REF)))
    on_duckdb = rows(run_query(con, query.render(VIEW_REF), today=TODAY, now=NOW))
    assert on_trino and on_trino == on_duckdb
    # The view (history before the watermark, raw after) answers as the raw snapshots alone do.
    assert on_trino == rows(athena.athena(NOW)(query.render(TABLE_REF)))
