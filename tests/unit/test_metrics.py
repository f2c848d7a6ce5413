"""EMF documents: exact dimension sets, zeros for every channel, timestamps from the snapshot."""

from __future__ import annotations

import datetime as dt
import io
import json

from connect_exporter.metrics import (
    CHANNELS,
    FilterHealth,
    InstanceHealth,
    agent_documents,
    filter_documents,
    instance_document,
)
from connect_exporter.observability import emit_emf

from ..support import summarize

AT = dt.datetime(2026, 11, 24, 3, 45, tzinfo=dt.UTC)
RECORDS = [
    {
        "status_name": "Available",
        "available_slots": {"VOICE": 1, "CHAT": 2},
        "max_slots": {"VOICE": 1, "CHAT": 3},
        "active_slots": {"VOICE": 0, "CHAT": 1},
        "contacts": [{"agent_contact_state": "CONNECTED"}],
        "username": "a",
        "user_id": "1",
    },
    {
        "status_name": "Break",
        "available_slots": {"VOICE": 0, "CHAT": 0},
        "max_slots": {"VOICE": 1, "CHAT": 1},
        "active_slots": {"VOICE": 1, "CHAT": 0},
        "contacts": [{"agent_contact_state": "CONNECTED"}, {"agent_contact_state": "ENDED"}],
        "username": "b",
        "user_id": "2",
    },
]


def printed(docs) -> list[dict]:
    """What CloudWatch Logs would receive: one JSON document per line."""
    out = io.StringIO()
    emit_emf(docs, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def value(doc: dict, name: str) -> float:
    """Powertools writes each value as a one-element list, which EMF allows."""
    v = doc[name]
    assert isinstance(v, list) and len(v) == 1
    return v[0]


def metrics_by_dims(docs):
    found = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        (dims,) = directive["Dimensions"]
        key = tuple((d, doc[d]) for d in dims)
        for metric in directive["Metrics"]:
            found[(key, metric["Name"])] = value(doc, metric["Name"])
    return found


def test_slot_sums_per_channel_include_zero_channels():
    summary = summarize(RECORDS)
    assert summary.agents == 2
    assert summary.available == {"VOICE": 1, "CHAT": 2, "TASK": 0, "EMAIL": 0}
    assert summary.max == {"VOICE": 2, "CHAT": 4, "TASK": 0, "EMAIL": 0}
    assert summary.active == {"VOICE": 1, "CHAT": 1, "TASK": 0, "EMAIL": 0}
    assert summary.by_status == {"Available": 1, "Break": 1}
    assert summary.contacts_by_state == {"CONNECTED": 2, "ENDED": 1}


def test_filter_documents_have_exactly_the_documented_dimension_sets():
    docs = printed(filter_documents("NS", AT, "inst-1", "support", summarize(RECORDS), FilterHealth(False, 7, 1, 0)))
    dim_sets = sorted({tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for d in docs})
    assert dim_sets == sorted(
        {
            ("InstanceId", "Filter"),
            ("InstanceId", "Filter", "Channel"),
            ("InstanceId", "Filter", "Status"),
            ("InstanceId", "Filter", "ContactState"),
        }
    )
    assert all("service" not in d for d in docs)  # POWERTOOLS_SERVICE_NAME is set in conftest
    assert all(d["_aws"]["Timestamp"] == int(AT.timestamp() * 1000) for d in docs)
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "NS" for d in docs)
    m = metrics_by_dims(docs)
    base = (("InstanceId", "inst-1"), ("Filter", "support"))
    for channel in CHANNELS:
        assert (base + (("Channel", channel),), "AvailableSlots") in m
    assert m[(base + (("Channel", "TASK"),), "AvailableSlots")] == 0
    assert m[(base + (("Channel", "CHAT"),), "MaxSlots")] == 4
    assert m[(base, "Agents")] == 2 and m[(base, "FilterFailed")] == 0 and m[(base, "ApiCalls")] == 7
    assert (base, "AlreadyWritten") not in m  # emitted only when it happens: no always-zero billed series
    assert m[(base + (("Status", "Break"),), "AgentsByStatus")] == 1
    assert m[(base + (("ContactState", "CONNECTED"),), "Contacts")] == 2


def test_a_failed_filter_emits_its_failure_and_no_made_up_zeros():
    docs = printed(filter_documents("NS", AT, "inst-1", "vip", None, FilterHealth(True, 3, 0, 0)))
    assert len(docs) == 1
    m = metrics_by_dims(docs)
    assert m[((("InstanceId", "inst-1"), ("Filter", "vip")), "FilterFailed")] == 1
    assert not any(name in ("Agents", "AvailableSlots") for _, name in m)


def test_new_channels_get_their_own_datapoints():
    records = [{**RECORDS[0], "max_slots": {"VOICE": 1, "VIDEO": 2}}]
    m = metrics_by_dims(printed(filter_documents("NS", AT, "i", "f", summarize(records), FilterHealth(False))))
    assert m[((("InstanceId", "i"), ("Filter", "f"), ("Channel", "VIDEO")), "MaxSlots")] == 2


def test_per_agent_and_instance_health_documents():
    agent_docs = printed(agent_documents("NS", AT, "i", "f", RECORDS))
    assert {tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for d in agent_docs} == {
        ("InstanceId", "Filter", "Agent", "Channel")
    }
    assert len(agent_docs) == 4
    (health,) = printed([instance_document("NS", AT, "i", InstanceHealth(1, 20, 2, 12.5, already_written_filters=3))])
    assert health["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["InstanceId"]]
    names = ("FailedFilters", "AlreadyWrittenFilters", "ApiCalls", "Throttles", "SnapshotDurationSeconds")
    assert [value(health, n) for n in names] == [1, 3, 20, 2, 12.5]
    units = {m["Name"]: m["Unit"] for m in health["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {
        "FailedFilters": "Count",
        "AlreadyWrittenFilters": "Count",
        "ApiCalls": "Count",
        "Throttles": "Count",
        "SnapshotDurationSeconds": "Seconds",
    }


def test_an_already_written_filter_emits_its_health_and_no_second_datapoint():
    docs = printed(filter_documents("NS", AT, "i", "f", None, FilterHealth(False, 4, 0, 0, already_written=True)))
    assert len(docs) == 1
    m = metrics_by_dims(docs)
    base = (("InstanceId", "i"), ("Filter", "f"))
    assert (m[(base, "AlreadyWritten")], m[(base, "FilterFailed")], m[(base, "ApiCalls")]) == (1, 0, 4)
    assert (base, "Agents") not in m


def test_a_blank_dimension_value_is_reported_as_unknown_not_folded_into_the_filter_totals():
    records = [{"status_name": " ", "max_slots": {"": 2, "VOICE": 1}, "contacts": [{"agent_contact_state": ""}]}]
    found = metrics_by_dims(printed(filter_documents("NS", AT, "i-1", "f", summarize(records), FilterHealth(failed=False))))
    base = (("InstanceId", "i-1"), ("Filter", "f"))
    assert found[((*base, ("Channel", "UNKNOWN")), "MaxSlots")] == 2
    assert found[((*base, ("Status", "UNKNOWN")), "AgentsByStatus")] == 1
    assert found[((*base, ("ContactState", "UNKNOWN")), "Contacts")] == 1
    assert (base, "MaxSlots") not in found


def test_metric_families_change_the_dimension_sets_exactly_as_configured():
    summary, health = summarize(RECORDS), FilterHealth(failed=False, api_calls=3)

    def emitted(families) -> set[tuple]:
        docs = printed(filter_documents("NS", AT, "i-1", "f", summary, health, frozenset(families)))
        return {
            (m["Name"], tuple(sorted((d, doc[d]) for d in dims)))
            for doc in docs
            for directive in doc["_aws"]["CloudWatchMetrics"]
            for dims in directive["Dimensions"]
            for m in directive["Metrics"]
        }

    base = (("Filter", "f"), ("InstanceId", "i-1"))
    heartbeat = {("FilterFailed", base)}
    slots = {
        (m, tuple(sorted(base + (("Channel", ch),)))) for m in ("AvailableSlots", "MaxSlots", "ActiveSlots") for ch in CHANNELS
    }
    status = {("AgentsByStatus", tuple(sorted(base + (("Status", s),)))) for s in ("Available", "Break")}
    contacts = {("Contacts", tuple(sorted(base + (("ContactState", s),)))) for s in ("CONNECTED", "ENDED")}
    health_metrics = {(m, base) for m in ("ApiCalls", "Throttles", "AgentsShortOfTotal")}
    # A filter that only alarms on slots: 13 billed metrics, the staleness heartbeat included.
    assert emitted(["slots"]) == slots | heartbeat and len(slots | heartbeat) == 13
    assert emitted([]) == heartbeat
    assert emitted(["agents", "status"]) == heartbeat | {("Agents", base)} | status
    assert emitted(["contacts", "health"]) == heartbeat | contacts | health_metrics
    everything = emitted(["slots", "agents", "status", "contacts", "health"])
    assert everything == slots | heartbeat | {("Agents", base)} | status | contacts | health_metrics
    assert printed(filter_documents("NS", AT, "i-1", "f", summary, health)) == printed(
        filter_documents("NS", AT, "i-1", "f", summary, health, frozenset(["slots", "agents", "status", "contacts", "health"]))
    )
