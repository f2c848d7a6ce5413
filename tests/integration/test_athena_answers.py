"""The shipped Athena queries answer correctly over an hour of real exporter output.

An hour of one-minute snapshots of a moving contact center is exported to a local Hive tree. The
named queries and the Glue table are taken from the synthesized template, translated from Athena's
Trino dialect by sqlglot, and run by DuckDB over that tree. Every answer is checked against the
simulator's own state at each minute, and the slot sums against the EMF the exporter emitted.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from local_athena.engine import open_table, run_query
from local_athena.lake import Lake, compact
from simulator.history import export_history, history_filters
from simulator.world import Instance, build_instance

from ..hive_types import conforms, hive_type
from ..infrastructure.support import synth
from ..support import expected_ids, read_tree

# The queries ask about "today" and "the last day": they run as if today were this hour's date.
HOUR = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
MINUTES = 60
UTC = dt.UTC


@dataclass(frozen=True)
class AgentTruth:
    username: str
    profile: str
    status: str
    status_start: dt.datetime
    slots: tuple[dict[str, int], dict[str, int], dict[str, int]]
    contacts: tuple[tuple[str, str, dt.datetime], ...]  # channel, state, state start
    filters: frozenset[str]


@dataclass
class Hour:
    root: Path
    instance: Instance
    truth: dict[dt.datetime, dict[str, AgentTruth]]  # minute -> logged-in agent id -> state
    emf: list[dict]
    template: dict
    filters: list[dict]


def _truth(instance: Instance, filters: list[dict]) -> dict[str, AgentTruth]:
    members = {f["name"]: expected_ids(instance, f) for f in filters}
    return {
        a.id: AgentTruth(
            a.username,
            instance.routing_profiles[a.routing_profile_id].name,
            a.status,
            a.status_start,
            instance.slots(a),
            tuple((c.channel, c.state, c.state_start) for c in a.contacts),
            frozenset(name for name, ids in members.items() if a.id in ids),
        )
        for a in instance.agents.values()
        if a.logged_in
    }


@pytest.fixture(scope="module")
def hour(tmp_path_factory) -> Hour:
    instance = build_instance(seed=11, agents=300, routing_profiles=30, queues=40, epoch=HOUR)
    # One agent alone runs out of slots now and then: the zero-available query has minutes to count.
    filters = [*history_filters(instance), {"name": "one-agent", "agents": sorted(instance.agents)[:1]}]
    root = tmp_path_factory.mktemp("hour") / "snapshots"
    emf: list[dict] = []
    truth: dict[dt.datetime, dict[str, AgentTruth]] = {}

    def emit(documents) -> int:
        emf.extend(documents)
        return 0

    def record_truth(at: dt.datetime) -> None:
        truth[at] = _truth(instance, filters)

    reports = export_history(instance, filters, HOUR, MINUTES, root, emit, on_minute=record_truth)
    assert not [r.failures for r in reports if r.failures]
    template = synth(tmp_path_factory.mktemp("synth")).json
    return Hour(root, instance, truth, emf, template, filters)


# --- the table and the queries, from the template ---------------------------------------------------


def _resources(template: dict, kind: str) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def _raw_table(template: dict) -> dict:
    (table,) = [t for t in _resources(template, "AWS::Glue::Table") if t["TableInput"]["TableType"] == "EXTERNAL_TABLE"]
    return table


@pytest.fixture(scope="module")
def athena(hour: Hour) -> duckdb.DuckDBPyConnection:
    """DuckDB reading the tree as the Glue table declares it (its columns, partition keys, SerDe format),
    under the stack's view: nothing is compacted, so the view reads the raw snapshots."""
    table = _raw_table(hour.template)
    descriptor = table["TableInput"]["StorageDescriptor"]
    return open_table(
        hour.root,
        [(c["Name"], c["Type"]) for c in descriptor["Columns"]],
        [(c["Name"], c["Type"]) for c in table["TableInput"]["PartitionKeys"]],
        descriptor["SerdeInfo"]["Parameters"]["timestamp.formats"],
        table["DatabaseName"],
        table["TableInput"]["Name"],
        con=Lake(hour.root.parent).connect(),
    )


def run_named_query(hour: Hour, con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    """The template's query, translated from Trino to DuckDB with today pinned to the hour's date."""
    (query,) = [q for q in _resources(hour.template, "AWS::Athena::NamedQuery") if q["Name"] == name]
    return run_query(con, query["QueryString"], HOUR.date())


def naive(value: dt.datetime) -> dt.datetime:
    """Athena's timestamp type has no zone: UTC wall time."""
    return value.astimezone(UTC).replace(tzinfo=None)


# --- the answers -----------------------------------------------------------------------------------


def test_the_hour_has_every_kind_of_movement(hour: Hour):
    # Not a test of the exporter: a guard that the checks below are checking something.
    minutes = [hour.truth[m] for m in sorted(hour.truth)]
    first, last = minutes[0], minutes[-1]
    logins = sum(len(set(now) - set(before)) for before, now in zip(minutes, minutes[1:], strict=False))
    logouts = sum(len(set(before) - set(now)) for before, now in zip(minutes, minutes[1:], strict=False))
    assert logins >= 10 and logouts >= 10
    changed = sum(a.status != first[i].status for i, a in last.items() if i in first)
    assert changed >= 20
    states = {c[1] for minute in hour.truth.values() for a in minute.values() for c in a.contacts}
    assert {"INCOMING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "ENDED"} <= states
    assert any(a.slots[0].get("EMAIL") for a in last.values()) and any(a.slots[2]["TASK"] for a in last.values())


def test_every_query_in_the_template_is_checked_here(hour: Hour):
    shipped = {q["Name"] for q in _resources(hour.template, "AWS::Athena::NamedQuery")}
    checked = {n.removeprefix("test_").replace("_", "-") for n in globals() if n.startswith("test_query_")}
    assert {n.removeprefix("query-") for n in checked} == shipped


def test_every_record_matches_the_glue_columns(hour: Hour):
    table = _raw_table(hour.template)
    columns = [(c["Name"], hive_type(c["Type"])) for c in table["TableInput"]["StorageDescriptor"]["Columns"]]
    tree = read_tree(hour.root)
    assert len(tree) == MINUTES * 6
    records = [r for rows in tree.values() for r in rows]
    assert len(records) == sum(len(a.filters) for minute in hour.truth.values() for a in minute.values())
    for record in records:
        assert list(record) == [name for name, _ in columns]
        for name, kind in columns:
            assert conforms(record[name], kind), (name, record[name], kind.sql("hive"))


def test_query_latest_agent_state(hour: Hour, athena):
    rows = run_named_query(hour, athena, "latest-agent-state")
    last_seen: dict[str, dt.datetime] = {}
    for minute, agents in sorted(hour.truth.items()):
        for agent_id in agents:
            last_seen[agent_id] = minute
    assert [r["user_id"] for r in rows] == sorted(last_seen)  # exactly one row per agent, in order
    logged_out = 0
    for row in rows:
        at = last_seen[row["user_id"]]
        agent = hour.truth[at][row["user_id"]]
        logged_out += at < max(hour.truth)
        assert row["instance_id"] == hour.instance.id
        assert row["last_seen"] == naive(at)
        assert (row["username"], row["status_name"], row["routing_profile_name"]) == (agent.username, agent.status, agent.profile)
        assert row["contact_count"] == len(agent.contacts)
        assert row["status_duration_seconds"] == pytest.approx((at - agent.status_start).total_seconds(), abs=0.001)
    assert logged_out >= 10  # agents who logged out keep their last state


def test_query_agents_per_status_over_time(hour: Hour, athena):
    rows = run_named_query(hour, athena, "agents-per-status-over-time")
    expected = Counter(
        (naive(minute), name, agent.status)
        for minute, agents in hour.truth.items()
        for agent in agents.values()
        for name in agent.filters
    )
    assert {(r["snapshot_time"], r["filter_name"], r["status_name"]): r["agents"] for r in rows} == expected
    assert len(rows) == len(expected)
    assert [(r["snapshot_time"], r["filter_name"], r["status_name"]) for r in rows] == sorted(expected)


def test_query_slots_per_channel_over_time(hour: Hour, athena):
    rows = run_named_query(hour, athena, "slots-per-channel-over-time")
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for minute, agents in hour.truth.items():
        for agent in agents.values():
            for name in agent.filters:
                for channel in agent.slots[1]:
                    sums = expected[(naive(minute), name, channel)]
                    for i in range(3):
                        sums[i] += agent.slots[i][channel]
    got = {
        (r["snapshot_time"], r["filter_name"], r["channel"]): [r["available_slots"], r["max_slots"], r["active_slots"]]
        for r in rows
    }
    assert got == expected
    # The same minute's EMF carries the same sums: what the alarms see is what Athena shows.
    emf = {
        (naive(dt.datetime.fromtimestamp(d["_aws"]["Timestamp"] / 1000, UTC)), d["Filter"], d["Channel"]): [
            d["AvailableSlots"][0],
            d["MaxSlots"][0],
            d["ActiveSlots"][0],
        ]
        for d in hour.emf
        if "AvailableSlots" in d
    }
    assert {key: sums for key, sums in emf.items() if key in got} == got
    # A minute the filter had nobody logged in has no rows, but its metrics say 0: an alarm sees no capacity.
    empty = {key for key in emf if key not in got}
    assert all(emf[key] == [0, 0, 0] for key in empty)
    assert {(minute, name) for minute, name, _ in empty} == {
        (naive(minute), f["name"])
        for minute, agents in hour.truth.items()
        for f in hour.filters
        if not any(f["name"] in a.filters for a in agents.values())
    }


def test_query_agents_on_contacts_by_state(hour: Hour, athena):
    rows = run_named_query(hour, athena, "agents-on-contacts-by-state")
    at = max(hour.truth)
    agents: dict[tuple, set[str]] = defaultdict(set)
    contacts: Counter[tuple] = Counter()
    longest: dict[tuple, float] = {}
    for agent_id, agent in hour.truth[at].items():
        for name in agent.filters:
            for channel, state, start in agent.contacts:
                key = (name, channel, state)
                agents[key].add(agent_id)
                contacts[key] += 1
                longest[key] = max(longest.get(key, 0.0), round((at - start).total_seconds(), 3))
    got = {(r["filter_name"], r["channel"], r["agent_contact_state"]): r for r in rows}
    assert set(got) == set(contacts)
    for key, row in got.items():
        assert (row["agents"], row["contacts"]) == (len(agents[key]), contacts[key]), key
        assert row["longest_in_state_seconds"] == pytest.approx(longest[key], abs=0.001), key
    assert [r["longest_in_state_seconds"] for r in rows] == sorted((r["longest_in_state_seconds"] for r in rows), reverse=True)


def test_query_status_minutes_per_agent_today(hour: Hour, athena):
    rows = run_named_query(hour, athena, "status-minutes-per-agent-today")
    expected = Counter((agent_id, agent.status) for agents in hour.truth.values() for agent_id, agent in agents.items())
    assert {(r["user_id"], r["status_name"]): r["snapshots"] for r in rows} == expected
    usernames = {i: a.username for agents in hour.truth.values() for i, a in agents.items()}
    assert all(r["username"] == usernames[r["user_id"]] for r in rows)
    assert sum(expected.values()) == sum(len(agents) for agents in hour.truth.values())


def test_query_status_minutes_per_agent_per_day(hour: Hour, athena):
    rows = run_named_query(hour, athena, "status-minutes-per-agent-per-day")
    expected = Counter(
        (f"{minute:%Y-%m-%d}", agent_id, agent.status)
        for minute, agents in hour.truth.items()
        for agent_id, agent in agents.items()
    )
    assert {(r["dt"], r["user_id"], r["status_name"]): r["snapshots"] for r in rows} == expected


def test_query_hourly_occupancy_per_routing_profile(hour: Hour, athena):
    rows = run_named_query(hour, athena, "hourly-occupancy-per-routing-profile")
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for minute, agents in hour.truth.items():
        for agent in agents.values():  # each agent once per minute, whatever filters hold it
            if not agent.filters:
                continue
            for channel, maximum in agent.slots[1].items():
                key = (f"{minute:%Y-%m-%d}", minute.hour, agent.profile, channel)
                sums[key][0] += agent.slots[2][channel]
                sums[key][1] += maximum
    got = {(r["dt"], r["hour"], r["routing_profile_name"], r["channel"]): r for r in rows}
    assert set(got) == set(sums)
    for key, (active, maximum) in sums.items():
        row = got[key]
        assert (row["active_slot_snapshots"], row["max_slot_snapshots"]) == (active, maximum), key
        assert row["occupancy"] == (pytest.approx(round(active / maximum, 4)) if maximum else None), key
    assert any(0 < r["occupancy"] < 1 for r in rows if r["occupancy"] is not None)


def test_query_zero_available_slot_minutes_per_day(hour: Hour, athena):
    rows = run_named_query(hour, athena, "zero-available-slot-minutes-per-day")
    available: dict[tuple, int] = defaultdict(int)
    for minute, agents in hour.truth.items():
        for agent in agents.values():
            for name in agent.filters:
                for channel in agent.slots[1]:
                    available[(f"{minute:%Y-%m-%d}", name, channel, minute)] += agent.slots[0][channel]
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for (day, name, channel, _), total in available.items():
        expected[(day, name, channel)][0] += total == 0
        expected[(day, name, channel)][1] += 1
    got = {(r["dt"], r["filter_name"], r["channel"]): [r["snapshots_with_none_available"], r["snapshots"]] for r in rows}
    assert got == expected
    assert any(none for none, _ in got.values())  # some filter ran out of a channel: the check is not vacuous


# --- agent activity: the tables compaction keeps, and the two queries over the view -------------------


@pytest.fixture(scope="module")
def compacted(hour: Hour, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """The hour compacted (history, agent_status_intervals, agent_activity), as the hourly run at 10:40 leaves it."""
    root = tmp_path_factory.mktemp("compacted")
    shutil.copytree(hour.root, root / "snapshots")
    compact(Lake(root), HOUR + dt.timedelta(hours=1))
    return Lake(root).connect()


def _activity(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return run_query(con, 'SELECT * FROM "connect_user_data"."agent_activity"')


def _quarter(minute: dt.datetime) -> dt.datetime:
    return naive(minute.replace(minute=minute.minute - minute.minute % 15))


def test_query_time_in_status_per_agent_per_day(hour: Hour, compacted):
    rows = run_named_query(hour, compacted, "time-in-status-per-agent-per-day")
    expected: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in _activity(compacted):
        expected[(r["dt"], r["user_id"], r["status_name"])][0] += r["seconds"]
        expected[(r["dt"], r["user_id"], r["status_name"])][1] += r["unobserved_seconds"]
    assert {(r["dt"], r["user_id"], r["status_name"]) for r in rows} == set(expected)
    for r in rows:
        seconds, unobserved = expected[(r["dt"], r["user_id"], r["status_name"])]
        assert (r["seconds"], r["unobserved_seconds"]) == (
            pytest.approx(seconds, abs=0.002),
            pytest.approx(unobserved, abs=0.002),
        )
    # Against the simulator: a status held at two snapshots a minute apart (same start) was held that whole minute.
    held: Counter = Counter()
    minutes = sorted(hour.truth)
    for before, after in zip(minutes, minutes[1:], strict=False):
        for agent_id, agent in hour.truth[before].items():
            later = hour.truth[after].get(agent_id)
            if agent.filters and later and (later.status, later.status_start) == (agent.status, agent.status_start):
                held[(f"{before:%Y-%m-%d}", agent_id, agent.status)] += 60
    got = {(r["dt"], r["user_id"], r["status_name"]): r["seconds"] for r in rows}
    assert held and all(got[key] >= seconds - 0.001 for key, seconds in held.items())


def _occupancy_truth(hour: Hour, key) -> dict[tuple, list[int]]:
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for minute, agents in hour.truth.items():
        for agent_id, agent in agents.items():
            if agent.filters:
                sums[(_quarter(minute), key(agent_id, agent))][0] += agent.slots[2].get("VOICE", 0) * 60
                sums[(_quarter(minute), key(agent_id, agent))][1] += agent.slots[1].get("VOICE", 0) * 60
    return sums


def test_query_occupancy_per_agent_per_interval(hour: Hour, compacted):
    rows = run_named_query(hour, compacted, "occupancy-per-agent-per-interval")
    got = {(r["interval_start"], r["user_id"]): r["voice_occupancy"] for r in rows if r["interval_start"] >= naive(HOUR)}
    sums = _occupancy_truth(hour, lambda agent_id, agent: agent_id)
    # An interval no snapshot fell in (the agent logged in just before its end) has seconds but no slots.
    assert set(sums) <= set(got) and all(got[key] is None for key in set(got) - set(sums))
    for key, (active, maximum) in sums.items():
        assert got[key] == (pytest.approx(round(active / maximum, 4)) if maximum else None), key
    assert any(0 < v < 1 for v in got.values() if v is not None)


def test_query_occupancy_per_routing_profile_per_interval(hour: Hour, compacted):
    rows = run_named_query(hour, compacted, "occupancy-per-routing-profile-per-interval")
    got = {
        (r["interval_start"], r["routing_profile_name"]): r["voice_occupancy"] for r in rows if r["interval_start"] >= naive(HOUR)
    }
    sums = _occupancy_truth(hour, lambda agent_id, agent: agent.profile)
    assert set(sums) <= set(got) and all(got[key] is None for key in set(got) - set(sums))
    for key, (active, maximum) in sums.items():
        assert got[key] == (pytest.approx(round(active / maximum, 4)) if maximum else None), key


def test_query_agents_by_unobserved_share(hour: Hour, compacted):
    rows = run_named_query(hour, compacted, "agents-by-unobserved-share")
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in _activity(compacted):
        totals[r["user_id"]][0] += r["unobserved_seconds"]
        totals[r["user_id"]][1] += r["seconds"] + r["unobserved_seconds"]
    assert {r["user_id"] for r in rows} == set(totals)
    shares = [r["unobserved_share"] for r in rows]
    assert shares == sorted(shares, reverse=True) and shares[0] > 0  # highest first, and someone had a gap
    for r in rows:
        unobserved, logged_in = totals[r["user_id"]]
        assert r["unobserved_share"] == pytest.approx(round(unobserved / logged_in, 4), abs=1e-4)


def test_query_agent_status_intervals_now(hour: Hour, athena):
    rows = run_named_query(hour, athena, "agent-status-intervals-now")
    ours = {(r["user_id"], r["status_name"], r["start_time"]): r for r in rows}
    seen = 0
    for minute, agents in hour.truth.items():
        for agent_id, agent in agents.items():
            if agent.filters:  # every agent at every minute lies in the interval of its status and exact start
                row = ours[(agent_id, agent.status, naive(agent.status_start))]
                assert row["first_seen"] <= naive(minute) <= row["last_seen"]
                seen += 1
    assert seen > 1000 and len(ours) == len(rows)


def test_query_contact_intervals_now(hour: Hour, athena):
    rows = run_named_query(hour, athena, "contact-intervals-now")
    ours = {(r["user_id"], r["channel"], r["state"], r["start_time"]) for r in rows}
    truth = {
        (agent_id, channel, state, naive(start))
        for agents in hour.truth.values()
        for agent_id, agent in agents.items()
        if agent.filters
        for channel, state, start in agent.contacts
    }
    assert truth and ours == truth  # every contact state any snapshot showed, once, with its exact start
