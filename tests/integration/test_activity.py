"""Agent status intervals from the snapshots, against the simulator's journal of what every agent did."""

from __future__ import annotations

import datetime as dt

import pytest

from lake_sql.activity import INTERVAL_COLUMNS, status_intervals_sql
from lake_sql.queries import TABLE_REF
from local_athena.engine import run_query
from local_athena.lake import Lake
from simulator.history import export_history
from simulator.truth import status_intervals
from simulator.world import build_instance

START = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)
MINUTES = 120  # across midnight
PERIOD = dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """Two hours of one-minute snapshots of a moving center, in two overlapping filters, and the journal."""
    instance = build_instance(seed=11, agents=120, routing_profiles=6, queues=10, epoch=START)
    journal = instance.start_journal()
    root = tmp_path_factory.mktemp("lake")
    profiles = sorted(instance.routing_profiles)
    filters = [{"name": "all-agents"}, {"name": "some-profiles", "routing_profiles": profiles[:3]}]
    reports = export_history(instance, filters, START, MINUTES, root / "snapshots", lambda docs: 0)
    assert not [r.failures for r in reports if r.failures]
    until = START + dt.timedelta(minutes=MINUTES - 1)
    con = Lake(root).connect()
    rows = run_query(con, status_intervals_sql(TABLE_REF))
    con.close()
    return rows, status_intervals(journal, until), until


def test_one_row_per_status_occurrence_with_the_documented_columns(observed):
    rows, _, _ = observed
    assert rows and tuple(rows[0]) == INTERVAL_COLUMNS
    keys = [(r["instance_id"], r["user_id"], r["start_time"]) for r in rows]
    assert len(keys) == len(set(keys))  # an agent in two filters is still one occurrence


def utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_statuses_of_at_least_the_period_start_and_end_as_the_journal_says(observed):
    rows, truth, until = observed
    ours = {(r["user_id"], r["status_name"], utc(r["start_time"])): r for r in rows}
    by_agent: dict[str, list] = {}
    for t in truth:
        by_agent.setdefault(t.agent_id, []).append(t)
    checked = exact = 0
    for agent, intervals in by_agent.items():
        for n, t in enumerate(intervals):
            seen_from = max(t.start, START)
            if (t.end or until) - seen_from < PERIOD:
                continue  # shorter than the schedule: possibly never sampled
            row = ours[(agent, t.status, t.start.replace(microsecond=t.start.microsecond // 1000 * 1000))]
            checked += 1
            following = intervals[n + 1] if n + 1 < len(intervals) else None
            if t.end is None:
                assert row["end_time"] is None or utc(row["last_seen"]) == until
            elif following is not None and following.start == t.end and (following.end or until) - following.start >= PERIOD:
                # The next status was long enough to be sampled: the end is its exact start.
                assert row["end_exact"] and utc(row["end_time"]) == t.end, (agent, t)
                exact += 1
            else:
                assert not row["end_exact"] or utc(row["end_time"]) >= t.end  # bounded, or a short status went unseen
    assert checked > 100 and exact > 50
