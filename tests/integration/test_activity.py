"""Agent activity as the compaction keeps it (`agent_status_intervals`, `agent_activity`), against the simulator's
journal of what every agent did: three hours across midnight of one-minute snapshots of a moving center, in two
overlapping filters, compacted an hour at a time as the hourly schedule does, with a rerun over them."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from lake_sql import activity
from lake_sql.history import ref
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake, compact
from simulator.history import export_history
from simulator.truth import StatusInterval, status_intervals
from simulator.world import RINGING, Transition, build_instance

START = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)
MINUTES = 180  # 22:00 to 00:59, across midnight
PERIOD = dt.timedelta(minutes=1)
UNTIL = START + dt.timedelta(minutes=MINUTES - 1)  # the last snapshot
INTERVAL = dt.timedelta(minutes=activity.INTERVAL_MINUTES)


def utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def table(con, name: str) -> list[dict]:
    return run_query(
        con,
        f"SELECT * FROM {ref(name)} ORDER BY instance_id, user_id, {'start_time' if name == activity.INTERVALS else 'interval_start, status_name'}",
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, list[Transition]]:
    """The snapshots of the three hours, and the journal of what every agent did."""
    instance = build_instance(seed=11, agents=100, routing_profiles=6, queues=10, epoch=START)
    journal = instance.start_journal()
    snapshots = tmp_path_factory.mktemp("simulated") / "snapshots"
    profiles = sorted(instance.routing_profiles)
    filters: list[dict[str, Any]] = [{"name": "all-agents"}, {"name": "some-profiles", "routing_profiles": profiles[:3]}]
    reports = export_history(instance, filters, START, MINUTES, snapshots, lambda docs: 0)
    assert not [r.failures for r in reports if r.failures]
    return snapshots, journal


@pytest.fixture(scope="module")
def observed(simulated, tmp_path_factory):
    """The lake compacted hour by hour (22:00, 23:00, 00:00 closed in turn), then again over all of it; the journal."""
    snapshots, journal = simulated
    root = tmp_path_factory.mktemp("lake")
    shutil.copytree(snapshots, root / "snapshots")
    lake = Lake(root)
    for hour in (1, 2, 3):
        compact(lake, START + dt.timedelta(hours=hour))
    con = lake.connect()
    first = {name: table(con, name) for name in (activity.INTERVALS, activity.ACTIVITY)}
    con.close()
    compact(lake, START + dt.timedelta(hours=3))  # the hourly schedule's next run, overlapping its look-back
    con = lake.connect()
    yield con, first, journal, status_intervals(journal, UNTIL)
    con.close()


def test_intervals_have_the_documented_columns_and_one_row_per_status_occurrence(observed):
    con, first, *_ = observed
    rows = first[activity.INTERVALS]
    assert rows and tuple(rows[0]) == activity.INTERVAL_COLUMNS
    keys = [(r["instance_id"], r["user_id"], r["start_time"]) for r in rows]
    assert len(keys) == len(set(keys))  # an agent in two filters is still one occurrence
    activity_rows = first[activity.ACTIVITY]
    assert activity_rows and tuple(activity_rows[0]) == activity.ACTIVITY_COLUMNS
    assert {r["interval_minutes"] for r in activity_rows} == {15}


def test_hour_by_hour_equals_all_at_once_and_a_rerun_adds_nothing(observed):
    """The incremental tables equal one computation over all of history, and the overlapping rerun changed nothing."""
    con, first, *_ = observed
    assert {name: table(con, name) for name in first} == first
    everything = run_query(con, activity.status_intervals_sql(ref("history")))
    assert [tuple(r.values()) for r in everything] == [tuple(r.values()) for r in first[activity.INTERVALS]]


def test_statuses_of_at_least_the_period_start_and_end_as_the_journal_says(observed):
    _, first, _, truth = observed
    ours = {(r["user_id"], r["status_name"], utc(r["start_time"])): r for r in first[activity.INTERVALS]}
    by_agent: dict[str, list[StatusInterval]] = defaultdict(list)
    for t in truth:
        by_agent[t.agent_id].append(t)
    checked = exact = 0
    for agent, intervals in by_agent.items():
        for n, t in enumerate(intervals):
            if (t.end or UNTIL) - max(t.start, START) < PERIOD:
                continue  # shorter than the schedule: possibly never sampled
            row = ours[(agent, t.status, t.start.replace(microsecond=t.start.microsecond // 1000 * 1000))]
            checked += 1
            following = intervals[n + 1] if n + 1 < len(intervals) else None
            if t.end is None:
                assert row["end_time"] is None and utc(row["last_seen"]) == UNTIL
            elif following is not None and following.start == t.end and (following.end or UNTIL) - following.start >= PERIOD:
                # The next status was long enough to be sampled: the end is its exact start, to the millisecond.
                assert row["end_exact"] and utc(row["end_time"]) == t.end, (agent, t)
                exact += 1
            else:  # a logout (bounded at the last sighting), or a short status unseen before the next
                assert row["end_time"] is not None and (utc(row["end_time"]) >= t.end or not row["end_exact"])
                assert t.end - utc(row["last_seen"]) <= PERIOD
    assert checked > 100 and exact > 50


def logouts(journal: list[Transition]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for t in journal:
        if t.kind == "logout" and START <= t.at <= UNTIL:
            counts[t.agent_id] += 1
    return counts


def per_agent(rows: list[dict], *columns: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        if utc(r["interval_start"]) >= START:
            totals[r["user_id"]] += sum(r[c] for c in columns)
    return totals


def test_observed_and_unobserved_seconds_add_up_to_the_logged_in_time(observed):
    """Per agent over the day: observed + unobserved seconds equal the journal's logged-in time within a period
    per logout: the part of a period after its last sighting (Connect stops listing the agent at once), or, when
    the agent logged out and back in between two snapshots into the status it had, the time it was away (the
    snapshots cannot tell that from a status too short to sample)."""
    _, first, journal, truth = observed
    ours = per_agent(first[activity.ACTIVITY], "seconds", "unobserved_seconds")
    logged_in: dict[str, float] = defaultdict(float)
    for t in truth:
        start, end = max(t.start, START), min(t.end or UNTIL, UNTIL)
        logged_in[t.agent_id] += max((end - start).total_seconds(), 0)
    out = logouts(journal)
    assert sum(out.values()) > 10 and set(ours) == {a for a, s in logged_in.items() if s > 0}
    for agent, seconds in logged_in.items():
        missing = seconds - ours.get(agent, 0)
        assert abs(missing) <= PERIOD.total_seconds() * out[agent] + 0.001, (agent, seconds, ours.get(agent), out[agent])
    assert abs(sum(logged_in.values()) - sum(ours.values())) < 60 * sum(out.values())


def test_unobserved_seconds_are_the_statuses_too_short_to_sample_within_a_period_a_change(observed):
    _, first, journal, truth = observed
    ours = per_agent(first[activity.ACTIVITY], "unobserved_seconds")
    short: dict[str, float] = defaultdict(float)
    changes: dict[str, int] = defaultdict(int)
    for t in truth:
        if START <= t.start <= UNTIL:
            changes[t.agent_id] += 1
            if t.end is not None and t.end - t.start < PERIOD:
                short[t.agent_id] += (t.end - t.start).total_seconds()
    assert sum(ours.values()) > 0 and sum(short.values()) > 0
    for agent in changes:
        assert abs(ours.get(agent, 0) - short.get(agent, 0)) <= PERIOD.total_seconds() * changes[agent], agent


def test_contacts_count_once_in_the_interval_they_reached_the_agent(observed):
    """Every contact the agent held for a period or more is counted, in the interval of its connection; none
    is counted that never reached the agent, or twice."""
    _, first, journal, _ = observed
    connected: dict[str, tuple[dt.datetime, str, str]] = {}
    gone: dict[str, dt.datetime] = {}
    opened: dict[str, str] = {}
    for t in journal:
        if t.kind == "contact" and t.contact_id:
            opened.setdefault(t.contact_id, t.value)
            # Its first connection: a contact the journal opened on hold or ended had connected before it began.
            if t.value == "CONNECTED" and t.contact_id not in connected and opened[t.contact_id] in (*RINGING, "CONNECTED"):
                connected[t.contact_id] = (t.at, t.agent_id, t.channel or "")
            elif t.value == "GONE":
                gone[t.contact_id] = t.at
    expected_at_least: dict[tuple, int] = defaultdict(int)
    expected_at_most: dict[tuple, int] = defaultdict(int)
    for contact, (at, agent, channel) in connected.items():
        if not START <= at < UNTIL - PERIOD:
            continue
        key = (agent, START + (at - START) // INTERVAL * INTERVAL, channel.lower())
        expected_at_most[key] += 1
        if gone.get(contact, UNTIL) - at >= PERIOD:
            expected_at_least[key] += 1
    counted: dict[tuple, int] = defaultdict(int)
    for r in first[activity.ACTIVITY]:
        for channel in ("voice", "chat", "task", "email"):
            if r[f"{channel}_contacts"] and START <= utc(r["interval_start"]) < UNTIL - PERIOD - INTERVAL:
                counted[(r["user_id"], utc(r["interval_start"]), channel)] += r[f"{channel}_contacts"]
    keys = {k for k in expected_at_most if k[1] < UNTIL - PERIOD - INTERVAL}
    assert sum(counted.values()) > 100
    for key in keys | set(counted):
        assert expected_at_least.get(key, 0) <= counted.get(key, 0) <= expected_at_most.get(key, 0), key


def test_slot_seconds_are_each_snapshot_standing_for_one_period(observed):
    """Occupancy's inputs: per agent and interval, slot-seconds are the snapshots' slots times the period."""
    con, first, *_ = observed
    (raw,) = run_query(
        con,
        f"""SELECT sum(coalesce(element_at(active_slots, 'VOICE'), 0)) AS active, sum(coalesce(element_at(max_slots, 'CHAT'), 0)) AS chat_max
        FROM {TABLE_REF} WHERE filter_name = 'all-agents'""",
    )
    rows = first[activity.ACTIVITY]
    assert sum(r["voice_active_slot_seconds"] for r in rows) == raw["active"] * 60 > 0
    assert sum(r["chat_max_slot_seconds"] for r in rows) == raw["chat_max"] * 60 > 0
    assert all(r["voice_active_slot_seconds"] <= r["voice_max_slot_seconds"] for r in rows)


def test_contact_intervals_start_as_the_journal_says_and_none_held_a_period_is_missed(observed):
    """`contact-intervals-now`: every contact state it shows began when the journal says, to the millisecond, and
    every state the journal held for a period or more within the span is shown."""
    con, _, journal, _ = observed
    (query,) = [q for q in QUERIES if q.name == "contact-intervals-now"]
    rows = run_query(con, query.render(VIEW_REF), today=UNTIL.date())
    ours = {(r["contact_id"], r["state"], utc(r["start_time"])) for r in rows}
    moves: dict[str, list[Transition]] = defaultdict(list)
    for t in journal:
        if t.kind == "contact" and t.contact_id:
            moves[t.contact_id].append(t)
    truth, held = set(), set()
    for contact, steps in moves.items():
        for n, t in enumerate(steps):
            if t.value == "GONE":
                continue
            key = (contact, t.value, t.at.replace(microsecond=t.at.microsecond // 1000 * 1000))
            truth.add(key)
            end = steps[n + 1].at if n + 1 < len(steps) else UNTIL
            if t.at >= START and end - t.at >= PERIOD and end <= UNTIL:
                held.add(key)
    assert len(held) > 100 and held <= ours and ours <= truth


def test_the_now_view_is_the_table_and_the_snapshots_since_the_watermark_computed_live(simulated, tmp_path):
    """With the watermark an hour before the last snapshot (00:00: the last hour still raw), the
    agent_status_intervals_now view answers as one computation over all of user_data: current to the minute."""
    root = tmp_path / "lake"
    shutil.copytree(simulated[0], root / "snapshots")
    compact(Lake(root), START + dt.timedelta(hours=2))  # 22:00 and 23:00 closed; 00:00-00:59 raw
    mid = Lake(root).connect()
    try:
        now = run_query(mid, f"SELECT * FROM {ref(activity.INTERVALS_NOW)} ORDER BY instance_id, user_id, start_time")
        everything = run_query(mid, activity.status_intervals_sql(VIEW_REF))
        stored = run_query(mid, f"SELECT max(last_seen) AS last FROM {ref(activity.INTERVALS)}")
    finally:
        mid.close()
    assert now == everything and utc(max(r["last_seen"] for r in now)) == UNTIL
    assert utc(stored[0]["last"]) < START + dt.timedelta(hours=2)  # the table alone stops at the watermark
