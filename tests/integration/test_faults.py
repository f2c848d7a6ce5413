"""The fault suite: each fault is injected at the wire (the simulator, or botocore's send hook for S3),
and each case asserts what was written, what was reported, and that no completed filter was lost.

Faults covered elsewhere: 20 % 500s with throttling (test_handler), the Lambda deadline (test_handler),
PutObject failing for good and a full disk (test_snapshot_failures), a filter the API rejects and denied
calls (test_cli).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from connect_exporter.clients import CONNECT_CONFIG, connect_client, s3_client
from connect_exporter.config import validate_config
from connect_exporter.connect import ConnectApi
from connect_exporter.directory import Directory
from connect_exporter.sinks import LocalSink, S3Sink
from connect_exporter.snapshot import run_snapshot
from simulator.scenario import build_instances
from simulator.server import ApiError, Faults, page_token
from simulator.world import build_instance

from ..support import emf_value, expected_ids, read_tree

AT = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
FAST = {"requests_per_second": 500, "burst": 50}


def export(root, instance, filters, pacing=None, client=None, sink=None):
    """One snapshot in-process; returns (report, EMF documents, records per filter name)."""
    config = validate_config({"instances": [{"instance_id": instance.id, "filters": filters}], "pacing": pacing or FAST})
    docs: list[dict] = []

    def emit(documents) -> int:
        documents = list(documents)
        docs.extend(documents)
        return sum(len(json.dumps(d)) for d in documents)

    api = ConnectApi(client or connect_client(), config.pacing)
    report = run_snapshot(config, AT, api, Directory(config.names_ttl_seconds), sink or LocalSink(root), emit=emit)
    by_filter = (
        {key.split("/")[1].removeprefix("filter_name="): rows for key, rows in read_tree(root).items()} if sink is None else {}
    )
    return report, docs, by_filter


def assert_complete(instance, filters, by_filter):
    for filt in filters:
        ids = [r["user_id"] for r in by_filter[filt["name"]]]
        assert len(ids) == len(set(ids)), f"duplicates in {filt['name']}"
        assert set(ids) == expected_ids(instance, filt), filt["name"]


def test_a_throttling_storm_at_half_a_call_per_second_loses_nothing(tmp_path, connect_sim):
    (inst,) = build_instances(1, 250, seed=21, routing_profiles=10, queues=20)
    # The account is down to 0.5 calls/s while the config trusts the default quota (2/s, burst 5).
    sim = connect_sim([inst], rate=0.5, burst=1)
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(inst.agents)[:40]}]
    report, docs, by_filter = export(tmp_path, inst, filters, pacing={"requests_per_second": 2, "burst": 5})
    assert not report.failures
    assert_complete(inst, filters, by_filter)
    throttled = sim.throttled["GetCurrentUserData"]
    assert throttled >= 3
    assert sum(emf_value(docs, "Throttles", InstanceId=inst.id, Filter=f["name"]) for f in filters) == throttled
    assert emf_value(docs, "Throttles", InstanceId=inst.id) == throttled


def test_latency_spikes_past_the_read_timeout_are_retried_and_lose_nothing(tmp_path, connect_sim):
    (inst,) = build_instances(1, 300, seed=22, routing_profiles=10, queues=20)
    sim = connect_sim([inst], faults=Faults(spike_rate=0.3, spike_seconds=1.5, seed=4))
    # The product's client settings, with a read timeout short enough for a test to outlast.
    client = boto3.client("connect", config=CONNECT_CONFIG.merge(Config(read_timeout=0.5)))
    filters = [
        {"name": "all-agents"},
        {"name": "support", "queues": sorted(q.id for q in inst.queues.values() if q.kind == "STANDARD")[:5]},
    ]
    report, docs, by_filter = export(tmp_path, inst, filters, client=client)
    assert not report.failures
    assert_complete(inst, filters, by_filter)
    assert report.api_stats.server_errors >= 2  # each timed-out call, retried
    # Every call the simulator saw is counted, name lookups included in the instance's health.
    assert report.api_stats.total_calls == sum(sim.calls.values()) == emf_value(docs, "ApiCalls", InstanceId=inst.id)


def test_an_expired_next_token_mid_chunk_restarts_that_chunk_only(tmp_path, connect_sim):
    (inst,) = build_instances(1, 1500, seed=23, routing_profiles=120, queues=40)
    refused: list[dict] = []

    def expire_once(operation, params):
        if operation == "GetCurrentUserData" and params.get("NextToken") and not refused:
            refused.append(params["Filters"])
            raise ApiError(400, "InvalidParameterException", "The NextToken is invalid or expired")

    sim = connect_sim([inst], faults=Faults(intercept=expire_once))
    filters = [{"name": "all-agents"}]
    report, docs, by_filter = export(tmp_path, inst, filters)
    assert not report.failures
    assert_complete(inst, filters, by_filter)
    # all-agents is two chunks of routing profiles; only the first chunk's first page is read twice.
    profiles = sorted(inst.routing_profiles)
    first = sum(a.routing_profile_id in profiles[:100] for a in inst.agents.values())
    pages = math.ceil(first / 100) + math.ceil((len(inst.agents) - first) / 100)
    assert refused[0]["RoutingProfiles"] == profiles[:100]
    assert sim.calls["GetCurrentUserData"] == pages + 2  # the refused call, and page one again
    assert emf_value(docs, "AgentsShortOfTotal", InstanceId=inst.id, Filter="all-agents") == 0


def test_agents_logging_out_between_pages_show_as_the_gap_and_are_never_duplicated(tmp_path, connect_sim):
    inst = build_instance(seed=24, agents=350, routing_profiles=10, queues=20)  # its own: this test logs agents out
    order = sorted(inst.agents)  # the simulator pages agents in id order
    seen_then_gone, gone = order[50], order[250]
    logged_out: list[str] = []

    def logout_after_first_page(operation, params, response):
        if operation == "GetCurrentUserData" and not logged_out:
            for agent_id in (seen_then_gone, gone):
                inst.agents[agent_id].logged_in = False
                logged_out.append(agent_id)
        return response

    connect_sim([inst], faults=Faults(rewrite=logout_after_first_page))
    report, docs, by_filter = export(tmp_path, inst, [{"name": "all-agents"}])
    ids = [r["user_id"] for r in by_filter["all-agents"]]
    assert len(ids) == len(set(ids)) == 348
    # The agent seen on page one is kept; the one who left is not; and offset paging skips the agent
    # who moved up into page one's range: the API's blind spot, reported as the gap.
    assert set(order) - set(ids) == {gone, order[100]}
    assert emf_value(docs, "AgentsShortOfTotal", InstanceId=inst.id, Filter="all-agents") == 2
    assert report.outcomes[0].short_of_total == 2 and not report.failures


def test_surprising_responses_are_kept_as_the_api_sent_them(tmp_path, connect_sim):
    (inst,) = build_instances(1, 120, seed=25, routing_profiles=5, queues=10)
    changed: dict[str, set[str]] = {"video": set(), "bare": set(), "odd": set()}

    nobody = sorted(inst.agents)[:3]

    def surprise(operation, params, response):
        if operation != "GetCurrentUserData":
            return response
        if params["Filters"].get("Agents") == nobody:  # nobody logged in: an empty list, no count
            return {"UserDataList": []}
        if not params.get("NextToken"):  # an empty first page that still points at the data
            return {
                "UserDataList": [],
                "ApproximateTotalCount": response["ApproximateTotalCount"],
                "NextToken": page_token(0, params["Filters"]),
            }
        for i, user in enumerate(response["UserDataList"]):
            uid = user["User"]["Id"]
            if i % 3 == 0:  # a channel this exporter has never heard of
                for key, value in (("MaxSlotsByChannel", 2), ("AvailableSlotsByChannel", 1), ("ActiveSlotsByChannel", 1)):
                    user[key]["VIDEO"] = value
                changed["video"].add(uid)
            elif i % 3 == 1:  # every optional block missing
                for key in ("Status", "HierarchyPath", "Contacts", "RoutingProfile", "AvailableSlotsByChannel", "NextStatus"):
                    user.pop(key, None)
                changed["bare"].add(uid)
            else:  # unknown enum values and a block the model does not have
                user["Contacts"] = [{**c, "AgentContactState": "PAUSED", "Channel": "VIDEO"} for c in user["Contacts"]]
                user["NextStatus"] = "Coaching"
                user["SomethingNew"] = {"Field": 1}
                changed["odd"].add(uid)
        return response

    connect_sim([inst], faults=Faults(rewrite=surprise))
    filters = [{"name": "all-agents"}, {"name": "nobody", "agents": nobody}]
    report, docs, by_filter = export(tmp_path, inst, filters)
    assert not report.failures
    assert_complete(inst, filters[:1], by_filter)
    # An empty filter is still written (the run happened) and reports zeros, not missing data.
    assert by_filter["nobody"] == [] and emf_value(docs, "Agents", InstanceId=inst.id, Filter="nobody") == 0
    assert emf_value(docs, "MaxSlots", InstanceId=inst.id, Filter="nobody", Channel="VOICE") == 0
    records = {r["user_id"]: r for r in by_filter["all-agents"]}
    assert all(records[u]["max_slots"]["VIDEO"] == 2 for u in changed["video"])
    assert emf_value(docs, "MaxSlots", InstanceId=inst.id, Filter="all-agents", Channel="VIDEO") == 2 * len(changed["video"])
    for uid in changed["bare"]:
        r = records[uid]
        assert r["status_name"] is r["routing_profile_id"] is r["available_slots"] is r["hierarchy_level_1_id"] is None
        assert r["contacts"] == [] and r["contact_count"] == 0 and r["max_slots"] is not None
    odd = [records[u] for u in changed["odd"]]
    assert all(r["next_status"] == "Coaching" and "SomethingNew" not in r for r in odd)
    paused = sum(len(inst.agents[u].contacts) for u in changed["odd"])
    assert sum(c["agent_contact_state"] == "PAUSED" and c["channel"] == "VIDEO" for r in odd for c in r["contacts"]) == paused > 0
    assert emf_value(docs, "Contacts", InstanceId=inst.id, Filter="all-agents", ContactState="PAUSED") == paused


def test_a_malformed_response_fails_its_filter_in_one_line_and_costs_the_others_nothing(tmp_path, connect_sim):
    (inst,) = build_instances(1, 200, seed=26, routing_profiles=8, queues=10)
    broken = sorted(inst.agents)[:10]

    def truncate(operation, params, response):
        if operation == "GetCurrentUserData" and params["Filters"].get("Agents") == broken:
            return b'{"UserDataList": [{"User": {"Id": '
        return response

    connect_sim([inst], faults=Faults(rewrite=truncate))
    filters = [{"name": "broken", "agents": broken}, {"name": "all-agents"}]
    report, docs, by_filter = export(tmp_path, inst, filters)
    ((failed, error),) = [(o.filter_name, o.error) for o in report.failures]
    # botocore parses a body that is not JSON into an empty result: it must not pass for "no agents".
    assert (failed, error) == ("broken", "GetCurrentUserData answered without UserDataList: a malformed or truncated response")
    assert list(by_filter) == ["all-agents"]
    assert_complete(inst, filters[1:], by_filter)
    assert emf_value(docs, "FilterFailed", InstanceId=inst.id, Filter="broken") == 1


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def test_put_object_failures_are_retried_and_the_object_lands_whole(connect_sim, s3):
    (inst,) = build_instances(1, 200, seed=27, routing_profiles=8, queues=10)
    connect_sim([inst])
    client, bucket = s3
    writer = s3_client()
    attempts: list[str] = []

    def slow_down_twice(request, **_):
        attempts.append(request.url)
        if len(attempts) <= 2:
            return AWSResponse(
                request.url, 503, {}, _Body(b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>")
            )
        return None

    writer.meta.events.register("before-send.s3.PutObject", slow_down_twice)
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(inst.agents)[:20]}]
    report, docs, _ = export(None, inst, filters, sink=S3Sink(writer, bucket, "snapshots"))
    assert not report.failures
    assert len(attempts) == 4  # three for the first object, one for the second
    for filt in filters:
        (key,) = [
            o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"] if f"filter_name={filt['name']}/" in o["Key"]
        ]
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        ids = [json.loads(line)["user_id"] for line in gzip.decompress(body).splitlines()]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(inst, filt)
