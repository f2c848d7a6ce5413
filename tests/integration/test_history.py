"""The history tier on a local lake: the stack's compaction SQL and view, run by DuckDB.

Two and a half hours of a moving center cross midnight; compaction runs for part of the span. Every named query
and a set of ad-hoc aggregates must answer the same over the view (history, then raw) as over the raw
snapshots alone, and keep answering the same after re-runs, an overlapping backlog, a late minute and
a compaction killed half-way.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lake_sql.activity import RETAINED
from lake_sql.history import HISTORY, ref
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake, compact
from simulator.history import export_history, history_filters
from simulator.world import build_instance

from ..support import REPO

UTC = dt.UTC
START = dt.datetime(2026, 11, 23, 22, 40, tzinfo=UTC)
MINUTES = 150  # to 01:09 on the 24th
TODAY = dt.date(2026, 11, 24)
PART = dt.datetime(2026, 11, 24, 0, 40, tzinfo=UTC)  # hours closed by then: 22:00-00:00

AD_HOC = {
    "rows": "SELECT count(*) AS n FROM {t}",
    "keys": "SELECT count(DISTINCT (instance_id, filter_name, snapshot_time, user_id)) AS n FROM {t}",
    "per-filter-hour": "SELECT filter_name, dt, hour, count(*) AS agents, sum(contact_count) AS contacts FROM {t} "
    "GROUP BY filter_name, dt, hour ORDER BY filter_name, dt, hour",
    "span": "SELECT min(snapshot_time) AS first, max(snapshot_time) AS last FROM {t}",
    "voice": "SELECT snapshot_time, sum(coalesce(element_at(available_slots, 'VOICE'), 0)) AS available FROM {t} "
    "WHERE filter_name = 'all-agents' GROUP BY snapshot_time ORDER BY snapshot_time",
    "statuses": "SELECT status_name, count(DISTINCT user_id) AS agents FROM {t} GROUP BY status_name ORDER BY status_name",
}


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory) -> Path:
    """Three hours of snapshots, exported once; each test compacts its own copy."""
    root = tmp_path_factory.mktemp("lake")
    instance = build_instance(seed=5, agents=80, routing_profiles=12, queues=20, epoch=START)
    reports = export_history(instance, history_filters(instance), START, MINUTES, root / "snapshots", lambda docs: 0)
    assert not [r.failures for r in reports if r.failures]
    return root


@pytest.fixture
def lake(raw_lake, tmp_path) -> Lake:
    shutil.copytree(raw_lake, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def canonical(rows: list[dict]) -> list[str]:
    return sorted(repr(sorted(r.items())) for r in rows)


def answers(lake: Lake, table: str) -> dict[str, list[str]]:
    """Every named query and ad-hoc aggregate, over `table`, in a form that compares across row order."""
    con = lake.connect()
    try:
        got = {q.name: canonical(run_query(con, q.render(table), TODAY)) for q in QUERIES if q.reads_snapshots}
        got.update({name: canonical(run_query(con, sql.format(t=table))) for name, sql in AD_HOC.items()})
        return got
    finally:
        con.close()


def history_rows(lake: Lake) -> tuple[int, int]:
    con = lake.connect()
    try:
        ((total, keys),) = con.execute(
            f"SELECT count(*), count(DISTINCT (instance_id, filter_name, snapshot_time, user_id)) FROM {ref(HISTORY)}"
        ).fetchall()
        return total, keys
    finally:
        con.close()


@pytest.fixture(scope="module")
def truth(raw_lake, tmp_path_factory) -> dict[str, list[str]]:
    """The answers over the raw snapshots alone."""
    copy = tmp_path_factory.mktemp("truth") / "lake"
    shutil.copytree(raw_lake, copy)
    return answers(Lake(copy), TABLE_REF)


def test_the_view_answers_as_raw_does_with_part_of_the_span_compacted(lake, truth):
    steps = compact(lake, PART).steps
    assert steps and steps[-1].stop == "2026-11-24 00:00:00"
    total, keys = history_rows(lake)
    assert total == keys > 0  # hours 22 and 23 of the 23rd, once each
    view = answers(lake, VIEW_REF)
    assert view == truth
    assert view["rows"] != ["[('n', 0)]"] and len(truth["per-filter-hour"]) > 10


def test_the_whole_span_compacted_answers_the_same(lake, truth):
    compact(lake, dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    total, _ = history_rows(lake)
    con = lake.connect()
    ((raw_rows,),) = con.execute(f"SELECT count(*) FROM {TABLE_REF}").fetchall()
    con.close()
    assert total == raw_rows  # everything moved: the view reads history only
    assert answers(lake, VIEW_REF) == truth


def test_rerunning_and_an_overlapping_backlog_change_nothing(lake, truth):
    compact(lake, PART)
    compact(lake, PART)  # the same period again
    compact(lake, dt.datetime(2026, 11, 24, 1, 10, tzinfo=UTC))  # one more hour, with the look-back overlapping
    compact(lake, PART)  # an older run arriving last
    total, keys = history_rows(lake)
    assert total == keys
    assert answers(lake, VIEW_REF) == truth


def test_a_minute_that_lands_after_its_hour_was_compacted_reaches_history(lake, truth):
    late = next((lake.snapshots).rglob("snapshot-20261123T235500Z.json.gz"))
    aside = lake.root / "late.json.gz"
    shutil.move(late, aside)  # not there yet when its hour is compacted
    compact(lake, PART)
    assert answers(lake, VIEW_REF) != truth  # the minute is missing, as it is from raw
    shutil.move(aside, late)  # a retried write lands it
    compact(lake, dt.datetime(2026, 11, 24, 1, 5, tzinfo=UTC))
    total, keys = history_rows(lake)
    assert total == keys
    assert answers(lake, VIEW_REF) == truth


def test_a_compaction_killed_half_way_loses_and_duplicates_nothing(lake, truth):
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
    command = [sys.executable, "-m", "local_athena", "compact", "--lake", str(lake.root), "--until", "2026-11-24T01:10:00Z"]
    killed = 0
    for delay in (0.7, 1.4):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        total, keys = history_rows(lake)
        assert total == keys  # whatever it managed, nothing twice
        assert answers(lake, VIEW_REF) == truth  # and the view never shows a gap or an overlap
    assert killed >= 1, "no run was killed: the delays are too long for this machine"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert answers(lake, VIEW_REF) == truth


def test_no_compaction_write_crosses_midnight(lake):
    """Before: a run after midnight merged 22:00-02:00 in one MERGE, writing both days' partitions (instances x
    filters x 2): with enough filters past Athena's 100 partitions a query, for good. Now one day a write."""
    compact(lake, PART)
    steps = compact(lake, dt.datetime(2026, 11, 24, 2, 40, tzinfo=UTC)).steps
    assert [(s.start, s.stop) for s in steps] == [
        ("2026-11-23 22:00:00", "2026-11-24 00:00:00"),
        ("2026-11-24 00:00:00", "2026-11-24 02:00:00"),
    ]
    total, keys = history_rows(lake)
    assert total == keys


def test_a_minute_written_after_its_look_back_reaches_history_at_the_daily_run(lake, truth):
    """Before: a raw minute landing once its hour had left the 2-hour look-back never reached history, and the
    view (history before the watermark) hid it for good while raw still held it."""
    late = sorted(lake.snapshots.rglob("snapshot-20261123T224500Z.json.gz"))  # every filter's
    aside = [lake.root / f"late-{n}.json.gz" for n in range(len(late))]
    for path, away in zip(late, aside, strict=True):
        shutil.move(path, away)
    compact(lake, dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # 22:00 merged without it
    for path, away in zip(late, aside, strict=True):
        shutil.move(away, path)  # a backfill
    assert not compact(lake, dt.datetime(2026, 11, 24, 3, 0, tzinfo=UTC)).steps[0].merged_rows  # the look-back: 00:00 on
    assert answers(lake, VIEW_REF) != truth
    daily = compact(lake, dt.datetime(2026, 11, 24, 3, 50, tzinfo=UTC), maintenance=True)
    assert daily.reconciled_from == "2026-11-23 22:00:00" and daily.steps[0].merged_rows > 0
    total, keys = history_rows(lake)
    assert total == keys
    assert answers(lake, VIEW_REF) == truth
    again = compact(lake, dt.datetime(2026, 11, 24, 4, 50, tzinfo=UTC), maintenance=True)
    assert again.reconciled_from is None  # nothing differs any more


def test_the_daily_run_keeps_one_watermark_row_and_drops_expired_days(lake):
    """History's retention also trims agent activity's two tables: they hold the same agents' data, so an
    expired day leaves all three (before, activity kept every day forever)."""
    compact(lake, dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    con = lake.connect()
    ((rows,),) = con.execute(f"SELECT count(*) FROM {ref('history_watermark')}").fetchall()
    old = {t: con.execute(f"SELECT count(*) FROM {ref(t)} WHERE dt < '2026-11-24'").fetchall()[0][0] for t in RETAINED}
    con.close()
    assert rows > 1  # a row an hourly period
    assert all(old.values()), old  # each table holds the day that is about to expire: the check is not vacuous
    daily = compact(lake, dt.datetime(2026, 11, 25, 3, 50, tzinfo=UTC), maintenance=True, retention_days=1)
    assert daily.expired_days[-1] == "2026-11-23"  # the 24th is within a day of the 25th
    con = lake.connect()
    ((rows,),) = con.execute(f"SELECT count(*) FROM {ref('history_watermark')}").fetchall()
    ((days,),) = con.execute(f"SELECT array_agg(DISTINCT dt ORDER BY dt) FROM {ref(HISTORY)}").fetchall()
    left = {t: con.execute(f"SELECT count(*) FROM {ref(t)} WHERE dt < '2026-11-24'").fetchall()[0][0] for t in RETAINED}
    kept = {t: con.execute(f"SELECT count(*) FROM {ref(t)} WHERE dt >= '2026-11-24'").fetchall()[0][0] for t in RETAINED}
    con.close()
    assert rows == 1 and days == ["2026-11-24"]
    assert left == dict.fromkeys(RETAINED, 0) and all(kept.values()), (left, kept)
