"""The Lambda handler against the simulator and moto's S3: faults, pacing, deadline, failure reporting."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta

import pytest

from connect_exporter import handler
from connect_exporter.snapshot import SnapshotFailed
from simulator.scenario import build_instances
from simulator.server import Faults

from ..support import PREFIX, Context, emf_lines, emf_value, expected_ids, world

SCHEDULED = {"scheduled_time": "2026-11-24T03:46:00Z"}


def test_scheduled_run_writes_every_filter_to_s3_and_prints_emf(deploy, connect_sim, capsys):
    (inst,) = world(1, 1500)
    connect_sim([inst])
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(inst.agents)[:120]}]
    objects = deploy(
        {"instances": [{"instance_id": inst.id, "filters": filters}], "pacing": {"requests_per_second": 500, "burst": 50}}
    )
    result = handler.lambda_handler(SCHEDULED, Context())
    assert result["records"] == 1620 and result["filters"] == 2
    written = objects()
    key = f"{PREFIX}/instance_id={inst.id}/filter_name=all-agents/dt=2026-11-24/hour=03/snapshot-20261124T034600Z.json.gz"
    assert sorted(written) == sorted([key, key.replace("all-agents", "vip")])
    assert {r["user_id"] for r in written[key]} == set(inst.agents)
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "Agents", InstanceId=inst.id, Filter="all-agents") == 1500
    assert all(d["_aws"]["Timestamp"] == 1795491960000 for d in docs)


def test_throttling_storms_and_500s_lose_nothing(deploy, connect_sim, capsys):
    (inst,) = build_instances(1, 400, seed=11, routing_profiles=30, queues=40)
    # The account's quota is 5/s burst 2 but the config claims 200/s: throttles are certain; 20 % of calls fail with 500.
    sim = connect_sim([inst], rate=5, burst=2, faults=Faults(error_rate=0.2, seed=3))
    filters = [
        {"name": "all-agents"},
        {"name": "q", "queues": sorted(q.id for q in inst.queues.values() if q.kind == "STANDARD")},
    ]
    objects = deploy(
        {
            "instances": [{"instance_id": inst.id, "filters": filters}],
            "pacing": {"requests_per_second": 200, "burst": 20, "max_attempts": 12},
        }
    )
    handler.lambda_handler(SCHEDULED, Context())
    written = objects()
    for filt in filters:
        (records,) = [v for k, v in written.items() if f"filter_name={filt['name']}/" in k]
        ids = [r["user_id"] for r in records]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(inst, filt)
    assert sum(sim.throttled.values()) > 0 and sum(sim.errors.values()) > 0
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "Throttles", InstanceId=inst.id) >= sim.throttled["GetCurrentUserData"]


def test_default_pacing_keeps_under_the_quota_without_throttles(deploy, connect_sim):
    (inst,) = build_instances(1, 1000, seed=5, routing_profiles=20, queues=30)
    sim = connect_sim([inst], rate=2, burst=5)
    filters = [{"name": "all-agents"}, {"name": "rp", "routing_profiles": sorted(inst.routing_profiles)[:10]}]
    objects = deploy({"instances": [{"instance_id": inst.id, "filters": filters}]})
    handler.lambda_handler(SCHEDULED, Context())
    assert len(objects()) == 2
    assert sum(sim.throttled.values()) == 0 and sim.calls["GetCurrentUserData"] >= 12


def test_a_failing_filter_raises_after_the_others_are_saved(deploy, connect_sim):
    (inst,) = world(1, 1500)
    connect_sim([inst])
    filters = [{"name": "broken", "routing_profiles": ["no-such-profile"]}, {"name": "vip", "agents": sorted(inst.agents)[:5]}]
    objects = deploy(
        {"instances": [{"instance_id": inst.id, "filters": filters}], "pacing": {"requests_per_second": 500, "burst": 50}}
    )
    with pytest.raises(SnapshotFailed, match=f"instance {inst.id} filter broken: GetCurrentUserData InvalidParameterException"):
        handler.lambda_handler(SCHEDULED, Context())
    assert [k.split("/")[2] for k in objects()] == ["filter_name=vip"]


def test_paging_stops_before_the_deadline_and_keeps_finished_filters(deploy, connect_sim, capsys):
    (inst,) = world(1, 1500)
    connect_sim([inst])
    filters = [
        {"name": "vip", "agents": sorted(inst.agents)[:100]},
        {"name": "all-agents"},
        {"name": "later", "agents": sorted(inst.agents)[:1]},
    ]
    # 2 calls/s: the 15+ pages of all-agents cannot fit in 9 s minus the 5 s reserve.
    objects = deploy(
        {"instances": [{"instance_id": inst.id, "filters": filters}], "pacing": {"requests_per_second": 2, "burst": 5}}
    )
    started = time.monotonic()
    with pytest.raises(SnapshotFailed) as info:
        handler.lambda_handler(SCHEDULED, Context(budget_seconds=9))
    assert time.monotonic() - started < 9
    assert "filter all-agents: stopped paging" in str(info.value) and "filter later: stopped paging" in str(info.value)
    assert [k.split("/")[2] for k in objects()] == ["filter_name=vip"]
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "FailedFilters", InstanceId=inst.id) == 2


def test_the_same_minute_twice_restores_a_deleted_object_and_never_rewrites_an_existing_one(deploy, connect_sim, s3, capsys):
    client, bucket = s3
    (inst,) = world(1, 1500)
    connect_sim([inst])
    filters = [
        {"name": "all-agents"},
        {"name": "vip", "agents": sorted(inst.agents)[:120]},
        {"name": "few", "agents": sorted(inst.agents)[:3]},
    ]
    objects = deploy(
        {"instances": [{"instance_id": inst.id, "filters": filters}], "pacing": {"requests_per_second": 500, "burst": 50}}
    )
    first = handler.lambda_handler(SCHEDULED, Context())
    assert (first["written"], first["already_written"]) == (3, 0)
    written = objects()
    deleted, replaced, untouched = sorted(written)
    client.delete_object(Bucket=bucket, Key=deleted)
    client.put_object(Bucket=bucket, Key=replaced, Body=gzip.compress(b'{"user_id":"edited by hand"}\n'))
    capsys.readouterr()

    second = handler.lambda_handler(SCHEDULED, Context())  # a Lambda or Scheduler retry of the same minute
    assert (second["filters"], second["written"], second["already_written"]) == (3, 1, 2)
    after = objects()
    assert sorted(after) == sorted(written)
    assert after[deleted] == written[deleted]  # back, with the same minute's agents
    assert after[replaced] == [{"user_id": "edited by hand"}]  # the first complete write stands
    assert after[untouched] == written[untouched]
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "AlreadyWrittenFilters", InstanceId=inst.id) == 2
    assert emf_value(docs, "FailedFilters", InstanceId=inst.id) == 0


def test_a_run_that_starts_after_the_next_scheduled_run_writes_nothing(deploy, connect_sim, monkeypatch, capsys):
    (inst,) = world(1, 1500)
    sim = connect_sim([inst])
    objects = deploy(
        {
            "instances": [{"instance_id": inst.id, "filters": [{"name": "all-agents"}]}],
            "pacing": {"requests_per_second": 500, "burst": 50},
        }
    )
    monkeypatch.setenv("EXPORTER_SCHEDULE_SECONDS", "60")
    # The nearest minute, so the on-time run below is neither a period late nor a period ahead when it starts.
    now = (datetime.now(UTC) + timedelta(seconds=30)).replace(second=0, microsecond=0)
    late = {"scheduled_time": (now - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")}
    result = handler.lambda_handler(late, Context())
    assert result["skipped"] == "late" and result["written"] == 0
    assert objects() == {} and sum(sim.calls.values()) == 0
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "LateRunsSkipped", InstanceId=inst.id) == 1

    on_time = handler.lambda_handler({"scheduled_time": now.isoformat()}, Context())
    assert on_time["written"] == 1 and len(objects()) == 1


def test_an_eventbridge_rule_event_is_timed_by_its_time_field(deploy, connect_sim):
    (inst,) = world(1, 1500)
    connect_sim([inst])
    objects = deploy(
        {
            "instances": [{"instance_id": inst.id, "filters": [{"name": "vip", "agents": sorted(inst.agents)[:5]}]}],
            "pacing": {"requests_per_second": 500, "burst": 50},
        }
    )
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-24T05:12:00Z", "detail": {}}
    assert handler.lambda_handler(event, Context())["snapshot_time"] == "2026-11-24T05:12:00+00:00"
    (key,) = objects()
    assert key.endswith("dt=2026-11-24/hour=05/snapshot-20261124T051200Z.json.gz")


def test_a_destination_that_is_not_s3_is_refused_by_name(deploy, monkeypatch):
    deploy({"instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents"}]}]})
    monkeypatch.setenv("EXPORTER_DESTINATION", "/tmp/snapshots")
    with pytest.raises(
        handler.StartupFailed, match=r"^EXPORTER_DESTINATION: must be s3://bucket/prefix \(got '/tmp/snapshots'\)$"
    ):
        handler.lambda_handler(SCHEDULED, Context())


def test_the_deadline_reserve_is_read_from_the_environment(deploy, connect_sim, monkeypatch):
    (inst,) = world(1, 1500)
    sim = connect_sim([inst])
    objects = deploy(
        {
            "instances": [{"instance_id": inst.id, "filters": [{"name": "vip", "agents": sorted(inst.agents)[:5]}]}],
            "pacing": {"requests_per_second": 500, "burst": 50},
        }
    )
    monkeypatch.setenv("EXPORTER_DEADLINE_RESERVE_SECONDS", "50")  # more than the 40 s this run has
    with pytest.raises(SnapshotFailed, match=r"filter vip: stopped paging \(GetCurrentUserData\) with \d+\.\d s left"):
        handler.lambda_handler(SCHEDULED, Context(budget_seconds=40))
    assert objects() == {} and sim.calls["GetCurrentUserData"] == 0


@pytest.mark.parametrize("per_operation", [True, False])
def test_a_raised_user_data_quota_is_used_without_driving_the_list_apis_past_theirs(deploy, connect_sim, per_operation):
    (inst,) = build_instances(1, 3000, seed=9, routing_profiles=20, queues=30)
    # The account raised GetCurrentUserData to 20/s; the List APIs keep a tight 1/s, burst 2 (0.25/s where the
    # config paces them at 20/s: a third ListUsers page within 4 s is throttled however slowly a loaded machine
    # serves the first two).
    list_rate = 1.0 if per_operation else 0.25
    sim = connect_sim([inst], rate=list_rate, burst=2, quotas={"GetCurrentUserData": (20.0, 40)})
    raised = {"requests_per_second": 20, "burst": 40}
    pacing = {"requests_per_second": 1, "burst": 2, "operations": {"GetCurrentUserData": raised}} if per_operation else raised
    objects = deploy({"instances": [{"instance_id": inst.id, "filters": [{"name": "all-agents"}]}], "pacing": pacing})
    started = time.monotonic()
    handler.lambda_handler(SCHEDULED, Context())
    elapsed = time.monotonic() - started
    (records,) = objects().values()
    assert len(records) == sum(a.logged_in for a in inst.agents.values())
    calls = sim.calls["GetCurrentUserData"]
    assert calls >= 30 and elapsed < (calls - 5) / 2  # faster than the default 2/s pace could be
    if per_operation:
        assert sum(sim.throttled.values()) == 0
    else:  # one pace for every operation: ListUsers' three pages at 20/s meet a 1/s quota
        assert sim.throttled["ListUsers"] > 0 and sim.throttled["GetCurrentUserData"] == 0


def test_the_fast_client_gives_the_records_botocore_s_own_parsing_gives(connect_sim):
    import boto3

    from connect_exporter.clients import CONNECT_CONFIG, connect_client
    from connect_exporter.records import Names, flatten

    (inst,) = world(1, 1500)
    connect_sim([inst])
    request = {"InstanceId": inst.id, "Filters": {"RoutingProfiles": sorted(inst.routing_profiles)[:40]}, "MaxResults": 100}
    fast = connect_client().get_current_user_data(**request)
    standard = boto3.client("connect", config=CONNECT_CONFIG).get_current_user_data(**request)
    assert isinstance(standard["UserDataList"][0]["Status"]["StatusStartTimestamp"], datetime)  # botocore's datetimes
    assert isinstance(fast["UserDataList"][0]["Status"]["StatusStartTimestamp"], float)  # as Connect sent them
    at = datetime(2026, 11, 24, 3, 46, tzinfo=UTC)
    records = [[flatten(u, at, Names()) for u in page["UserDataList"]] for page in (fast, standard)]
    assert records[0] == records[1] and len(records[0]) == 100 and any(r["contacts"] for r in records[0])
    assert fast["NextToken"] == standard["NextToken"] and fast["ApproximateTotalCount"] == standard["ApproximateTotalCount"]
    users = connect_client().list_users(InstanceId=inst.id, MaxResults=1000)["UserSummaryList"]
    assert {u["Id"]: u["Username"] for u in users} == {
        a.id: a.username for a in sorted(inst.agents.values(), key=lambda a: a.id)[:1000]
    }


def test_pages_that_arrive_before_the_names_wait_on_disk_and_still_get_every_name(deploy, connect_sim, capsys):
    (inst,) = world(1, 1500)

    def slow_user_list(operation: str, params: dict) -> None:
        if operation == "ListUsers":
            time.sleep(1.0)  # every page of GetCurrentUserData is in before the user names are

    connect_sim([inst], faults=Faults(intercept=slow_user_list))
    objects = deploy(
        {
            "instances": [{"instance_id": inst.id, "filters": [{"name": "all-agents"}]}],
            "pacing": {"requests_per_second": 500, "burst": 50},
        }
    )
    result = handler.lambda_handler(SCHEDULED, Context())
    (records,) = objects().values()
    assert result["records"] == len(records) == sum(a.logged_in for a in inst.agents.values())
    assert all(r["username"] == inst.agents[r["user_id"]].username for r in records)
    assert len({r["user_id"] for r in records}) == len(records)
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "Agents", InstanceId=inst.id, Filter="all-agents") == len(records)
