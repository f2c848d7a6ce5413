"""Sub-minute sampling through the Lambda handler: the simulator's world moves between samples, and each sample
is written once, under its own time, equal to the world at that instant."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from connect_exporter import handler, sampling
from connect_exporter.metrics import HIGH_RESOLUTION
from simulator.scenario import build_instances
from simulator.world import Instance

from ..support import PREFIX, Context, emf_lines


class World:
    """The wall clock a run sees, with the simulator's world moved forward by every second the run sleeps: what
    Connect would answer at each sample's time, without waiting a real minute."""

    def __init__(self, start: dt.datetime, instance: Instance) -> None:
        self.start, self.instance = start, instance
        self.began = time.monotonic()
        self.slept = 0.0
        self.world_start = instance.clock
        self.truths: list[dict[str, tuple[str, dict[str, int]]]] = [self.truth()]
        self.connect: Any = None  # the simulator answering as Connect

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.began + self.slept)

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.instance.advance(self.world_start + dt.timedelta(seconds=self.slept))
        self.truths.append(self.truth())

    def truth(self) -> dict[str, tuple[str, dict[str, int]]]:
        """Each logged-in agent's status name and available slots, as the API reports them now."""
        inst = self.instance
        return {a.id: (inst.statuses[a.status].name, inst.slots(a)[0]) for a in inst.agents.values() if a.logged_in}


def emf_number(value: Any) -> float:
    return float(value[0] if isinstance(value, list) else value)


def nearest_minute() -> dt.datetime:
    """A scheduled time the handler takes as on time: the nearest whole minute, 30 s either way."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).replace(second=0, microsecond=0)


@pytest.fixture
def sampled(deploy, connect_sim, monkeypatch):
    """A deployed function sampling every `seconds`, over a world that moves as the run sleeps."""

    def start(seconds: int, agents: int = 300) -> tuple[Instance, Any, World, dt.datetime]:
        (inst,) = build_instances(1, agents, seed=23, routing_profiles=12, queues=20)
        sim = connect_sim([inst])
        objects = deploy({"instances": [{"instance_id": inst.id, "filters": [{"name": "all-agents"}]}]})
        monkeypatch.setenv("EXPORTER_SAMPLE_SECONDS", str(seconds))
        monkeypatch.setenv("EXPORTER_SCHEDULE_SECONDS", "60")
        monkeypatch.setenv("EXPORTER_DEADLINE_RESERVE_SECONDS", "3")
        at = nearest_minute()
        world = World(at, inst)
        world.connect = sim
        monkeypatch.setattr(sampling, "_utc_now", world.now)
        monkeypatch.setattr(sampling, "_sleep", world.sleep)
        return inst, objects, world, at

    return start


def test_a_15_s_run_writes_four_snapshots_each_the_world_at_its_own_time(sampled, capsys):
    inst, objects, world, at = sampled(15)
    result = handler.lambda_handler({"scheduled_time": at.isoformat()}, Context(budget_seconds=59))
    assert (result["samples"], result["samples_skipped"], result["written"]) == (4, 0, 4)
    written = objects()
    times = [at + dt.timedelta(seconds=s) for s in (0, 15, 30, 45)]
    keys = [
        f"{PREFIX}/instance_id={inst.id}/filter_name=all-agents/dt={t:%Y-%m-%d}/hour={t:%H}/snapshot-{t:%Y%m%dT%H%M%SZ}.json.gz"
        for t in times
    ]
    assert sorted(written) == sorted(keys)
    assert len(world.truths) == 4  # the run slept three times: once before each later sample
    changed = 0
    for key, when, truth in zip(keys, times, world.truths, strict=True):
        records = written[key]
        assert {r["snapshot_time"] for r in records} == {when.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        assert {r["period_seconds"] for r in records} == {15}  # what time in status weighs each by, in history too
        got = {r["user_id"]: (r["status_name"], r["available_slots"]) for r in records}
        assert got == truth, key
        changed += truth != world.truths[0]
    assert changed >= 2  # the world moved between samples: equal snapshots would prove nothing
    docs = emf_lines(capsys.readouterr().out)
    stamps = sorted({d["_aws"]["Timestamp"] for d in docs if "AvailableSlots" in d})
    assert stamps == [int(t.timestamp() * 1000) for t in times]
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                slots = metric["Name"] in ("AvailableSlots", "MaxSlots", "ActiveSlots")
                assert metric.get("StorageResolution") == (HIGH_RESOLUTION if slots else None), metric


def test_a_run_that_starts_late_skips_the_samples_whose_slots_passed_and_takes_the_rest(sampled, capsys):
    inst, objects, world, at = sampled(15)
    world.slept = 31.0  # the invocation reaches the handler 31 s after its minute: slots 0-15 and 15-30 are gone
    result = handler.lambda_handler({"scheduled_time": at.isoformat()}, Context(budget_seconds=59))
    assert (result["samples"], result["samples_skipped"]) == (2, 2)
    assert sorted(k.rsplit("-", 1)[-1] for k in objects()) == sorted(
        f"{at + dt.timedelta(seconds=s):%Y%m%dT%H%M%SZ}.json.gz" for s in (30, 45)
    )
    docs = emf_lines(capsys.readouterr().out)
    late = sorted(d["_aws"]["Timestamp"] for d in docs if d.get("LateRunsSkipped"))
    assert late == [int((at + dt.timedelta(seconds=s)).timestamp() * 1000) for s in (0, 15)]


def test_a_sample_that_outlasts_its_slot_fails_alone_and_the_next_is_taken_on_time(sampled, capsys):
    inst, objects, world, at = sampled(15)
    second = at + dt.timedelta(seconds=15)
    stalled: list[dt.datetime] = []

    def stall(operation: str, params: dict[str, Any]) -> None:
        # The second sample's first call answers 14.5 s later (as the wall clock sees it): its slot is spent.
        if operation == "GetCurrentUserData" and world.now() >= second and not stalled:
            stalled.append(world.now())
            world.slept += 14.5

    world.connect.faults.intercept = stall
    with pytest.raises(
        handler.SnapshotFailed, match=r"^1 filter\(s\) failed: \d\d:\d\d:15Z instance .* filter all-agents: stopped paging"
    ):
        handler.lambda_handler({"scheduled_time": at.isoformat()}, Context(budget_seconds=59))
    assert stalled
    assert sorted(k.rsplit("-", 1)[-1] for k in objects()) == sorted(
        f"{at + dt.timedelta(seconds=s):%Y%m%dT%H%M%SZ}.json.gz" for s in (0, 30, 45)
    )
    docs = emf_lines(capsys.readouterr().out)
    failed = {d["_aws"]["Timestamp"]: emf_number(d["FilterFailed"]) for d in docs if "FilterFailed" in d}
    assert failed == {int((at + dt.timedelta(seconds=s)).timestamp() * 1000): float(s == 15) for s in (0, 15, 30, 45)}


def test_a_retried_run_adds_nothing_to_samples_already_written(sampled):
    inst, objects, world, at = sampled(30)
    handler.lambda_handler({"scheduled_time": at.isoformat()}, Context(budget_seconds=59))
    first = objects()
    world.slept = 0.0  # the same minute again, as a retry would run it (within its first slot)
    world.began = time.monotonic()
    result = handler.lambda_handler({"scheduled_time": at.isoformat()}, Context(budget_seconds=59))
    assert (result["written"], result["already_written"]) == (0, 2)
    assert objects() == first


@pytest.mark.parametrize("schedule_seconds", ["60", "300"])
def test_the_default_takes_one_sample_a_run_with_standard_resolution(deploy, connect_sim, capsys, monkeypatch, schedule_seconds):
    (inst,) = build_instances(1, 200, seed=3, routing_profiles=5, queues=5)
    connect_sim([inst])
    objects = deploy({"instances": [{"instance_id": inst.id, "filters": [{"name": "all-agents"}]}]})
    monkeypatch.setenv("EXPORTER_SCHEDULE_SECONDS", schedule_seconds)  # rate(5 minutes): still one sample, not five
    at = nearest_minute()
    result = handler.lambda_handler({"scheduled_time": at.isoformat()}, Context())
    assert (result["samples"], result["written"]) == (1, 1)
    (records,) = objects().values()
    assert [k.rsplit("-", 1)[-1] for k in objects()] == [f"{at:%Y%m%dT%H%M%SZ}.json.gz"]
    assert {r["period_seconds"] for r in records} == {int(schedule_seconds)}  # a 5-minute run's snapshot is 5 minutes
    docs = emf_lines(capsys.readouterr().out)
    assert all("StorageResolution" not in m for d in docs for x in d["_aws"]["CloudWatchMetrics"] for m in x["Metrics"])


def test_a_bad_sampling_rate_in_the_environment_is_one_line(deploy, monkeypatch):
    deploy({"instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents"}]}]})
    monkeypatch.setenv("EXPORTER_SAMPLE_SECONDS", "7")
    with pytest.raises(handler.StartupFailed, match=r"EXPORTER_SAMPLE_SECONDS: must be 10, 15, 20, 30 or 60 \(got 7\)"):
        handler.lambda_handler({}, Context())
