"""History and agent activity over 15-second samples: every sample kept, and time weighed by the sampling
period, against the simulator's journal of what every agent did (two hours, compacted as the stack does)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake_sql import activity
from lake_sql.history import HISTORY, ref
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query, to_duckdb
from local_athena.lake import Lake, compact
from simulator.history import export_history
from simulator.truth import status_intervals
from simulator.world import Transition, build_instance

START = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)
MINUTES = 120
SAMPLE = 15
UNTIL = START + dt.timedelta(minutes=MINUTES) - dt.timedelta(seconds=SAMPLE)  # the last sample


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> Iterator[tuple[Any, list[Transition]]]:
    instance = build_instance(seed=13, agents=40, routing_profiles=4, queues=6, epoch=START)
    journal = instance.start_journal()
    root = tmp_path_factory.mktemp("sampled")
    profiles = sorted(instance.routing_profiles)
    filters: list[dict[str, Any]] = [{"name": "all-agents"}, {"name": "some-profiles", "routing_profiles": profiles[:2]}]
    reports = export_history(instance, filters, START, MINUTES, root / "snapshots", lambda docs: 0, sample_seconds=SAMPLE)
    assert len(reports) == MINUTES * 60 // SAMPLE and not [r.failures for r in reports if r.failures]
    lake_root = tmp_path_factory.mktemp("lake")
    shutil.copytree(root / "snapshots", lake_root / "snapshots")
    lake = Lake(Path(lake_root))
    compact(lake, START + dt.timedelta(hours=1), sample_seconds=SAMPLE)
    compact(lake, START + dt.timedelta(hours=2, minutes=5), sample_seconds=SAMPLE)
    con = lake.connect()
    yield con, journal
    con.close()


def test_history_keeps_every_sample(sampled):
    con, _ = sampled
    count = "SELECT count(*) AS n, count(DISTINCT snapshot_time) AS times FROM {}"
    (raw,) = run_query(con, count.format(TABLE_REF))
    (kept,) = run_query(con, count.format(ref(HISTORY)))
    assert kept == raw and raw["times"] == MINUTES * 60 // SAMPLE  # four a minute, none merged into its minute
    (view,) = run_query(con, count.format(VIEW_REF))
    assert view == raw


def test_slot_seconds_weigh_each_sample_by_its_15_seconds(sampled):
    con, _ = sampled
    (raw,) = run_query(
        con,
        f"""SELECT sum(coalesce(element_at(active_slots, 'VOICE'), 0)) AS active, sum(coalesce(element_at(max_slots, 'CHAT'), 0)) AS chat_max
        FROM {TABLE_REF} WHERE filter_name = 'all-agents'""",
    )
    rows = run_query(con, f"SELECT * FROM {ref(activity.ACTIVITY)}")
    assert sum(r["voice_active_slot_seconds"] for r in rows) == raw["active"] * SAMPLE > 0
    assert sum(r["chat_max_slot_seconds"] for r in rows) == raw["chat_max"] * SAMPLE > 0


def test_time_in_status_is_within_a_sample_of_the_journal(sampled):
    """Per agent, observed + unobserved seconds equal the logged-in time within one sample period per logout,
    and unobserved seconds the statuses shorter than a sample within one period per change: a quarter of the
    error a minute's snapshots allow."""
    con, journal = sampled
    # A status open at the first sample counts from its own start: compare from the first sample on.
    rows = run_query(
        con,
        f"SELECT user_id, seconds, unobserved_seconds FROM {ref(activity.ACTIVITY)} "
        f"WHERE interval_start >= TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}'",
    )
    ours: dict[str, float] = defaultdict(float)
    unobserved: dict[str, float] = defaultdict(float)
    for r in rows:
        ours[r["user_id"]] += float(r["seconds"]) + float(r["unobserved_seconds"])
        unobserved[r["user_id"]] += float(r["unobserved_seconds"])
    truth = status_intervals(journal, UNTIL)
    logged_in: dict[str, float] = defaultdict(float)
    short: dict[str, float] = defaultdict(float)
    changes: dict[str, int] = defaultdict(int)
    for t in truth:
        start, end = max(t.start, START), min(t.end or UNTIL, UNTIL)
        logged_in[t.agent_id] += max((end - start).total_seconds(), 0)
        if START <= t.start <= UNTIL:
            changes[t.agent_id] += 1
            if t.end is not None and (t.end - t.start).total_seconds() < SAMPLE:
                short[t.agent_id] += (t.end - t.start).total_seconds()
    logouts: dict[str, int] = defaultdict(int)
    for t in journal:
        if t.kind == "logout" and START <= t.at <= UNTIL:
            logouts[t.agent_id] += 1
    assert sum(changes.values()) > 50 and sum(ours.values()) > 0
    for agent, seconds in logged_in.items():
        assert abs(seconds - ours.get(agent, 0)) <= SAMPLE * (logouts[agent] + 1) + 0.001, agent
    for agent in changes:
        assert abs(unobserved.get(agent, 0) - short.get(agent, 0)) <= SAMPLE * changes[agent], agent


def test_named_queries_count_minutes_not_samples(sampled):
    con, _ = sampled
    query = next(q for q in QUERIES if q.name == "status-minutes-per-agent-per-day")
    rows = run_query(con, to_duckdb(query.render(VIEW_REF, sample_seconds=SAMPLE), START.date()))
    assert rows and all(float(r["minutes"]) == pytest.approx(r["snapshots"] * SAMPLE / 60, abs=0.005) for r in rows)
    # Two hours of every agent in the all-agents filter: their minutes add to at most 120 each, not 480.
    per_agent: dict[str, float] = defaultdict(float)
    for r in rows:
        per_agent[r["user_id"]] += float(r["minutes"])
    assert max(per_agent.values()) == pytest.approx(MINUTES, abs=0.01)


def _without_period(root: Path) -> None:
    """Rewrite every snapshot under `root` as a version before `period_seconds` wrote it: the key absent."""
    for path in root.rglob("*.json.gz"):
        lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        for record in lines:
            del record["period_seconds"]
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode()))


def test_a_change_of_rate_weighs_each_snapshot_by_the_period_it_was_taken_at(tmp_path):
    """An hour at a minute's sampling, then the deployment moves to 15 s: each row carries its own period, so
    the first hour still counts 60 minutes (not 15) once 15 s is the deployed rate, in the named queries and in
    agent activity's slot-seconds alike. The second hour's rows are written without a period (as by a version
    before the column): they count at the deployed rate."""
    instance = build_instance(seed=21, agents=12, routing_profiles=2, queues=4, epoch=START)
    filters: list[dict[str, Any]] = [{"name": "all-agents"}]
    export_history(instance, filters, START, 60, tmp_path / "snapshots", lambda docs: 0, sample_seconds=60)
    later = tmp_path / "later"
    export_history(instance, filters, START + dt.timedelta(hours=1), 60, later, lambda docs: 0, sample_seconds=SAMPLE)
    _without_period(later)
    shutil.copytree(later, tmp_path / "snapshots", dirs_exist_ok=True)
    lake = Lake(tmp_path)
    compact(lake, START + dt.timedelta(hours=2, minutes=5), sample_seconds=SAMPLE)  # as deployed now: 15 s
    con = lake.connect()
    try:
        periods = run_query(
            con, f"SELECT hour, min(period_seconds) AS low, max(period_seconds) AS high FROM {VIEW_REF} GROUP BY hour"
        )
        assert {r["hour"]: (r["low"], r["high"]) for r in periods} == {22: (60, 60), 23: (None, None)}
        query = next(q for q in QUERIES if q.name == "status-minutes-per-agent-per-day")
        rows = run_query(con, to_duckdb(query.render(VIEW_REF, sample_seconds=SAMPLE), START.date()))
        minutes: dict[str, float] = defaultdict(float)
        for r in rows:
            minutes[r["user_id"]] += float(r["minutes"])
        throughout = run_query(con, f"SELECT user_id FROM {VIEW_REF} GROUP BY user_id HAVING count(*) = {60 + 3600 // SAMPLE}")
        assert throughout
        for r in throughout:  # an agent seen in every snapshot: two hours, an hour at each rate
            assert minutes[r["user_id"]] == pytest.approx(120, abs=0.01), r["user_id"]

        # Slot-seconds and zero-slot minutes, computed here from the rows, each snapshot at its own period.
        snapshots = run_query(con, f"SELECT snapshot_time, period_seconds, max_slots, available_slots FROM {VIEW_REF}")
        weight = {s["snapshot_time"]: s["period_seconds"] or SAMPLE for s in snapshots}
        chat = sum((s["max_slots"] or {}).get("CHAT", 0) * weight[s["snapshot_time"]] for s in snapshots)
        (kept,) = run_query(con, f"SELECT sum(chat_max_slot_seconds) AS seconds FROM {ref(activity.ACTIVITY)}")
        assert kept["seconds"] == chat > 0
        available: dict[tuple, int] = defaultdict(int)
        for s in snapshots:
            for channel, count in (s["max_slots"] or {}).items():
                available[(s["snapshot_time"], channel)] += (
                    (s["available_slots"] or {}).get(channel, 0) if count is not None else 0
                )
        none: dict[str, float] = defaultdict(float)
        for (at, channel), total in available.items():
            none[channel] += weight[at] / 60 if total == 0 else 0
        zero = next(q for q in QUERIES if q.name == "zero-available-slot-minutes-per-day")
        got: dict[str, float] = defaultdict(float)
        for r in run_query(con, to_duckdb(zero.render(VIEW_REF, sample_seconds=SAMPLE), START.date())):
            got[r["channel"]] += float(r["minutes_with_none_available"])
        assert got == pytest.approx(dict(none), abs=0.02) and any(none.values())
    finally:
        con.close()
