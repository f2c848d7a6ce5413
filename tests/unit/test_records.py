"""Flattening: every schema key, every field, nulls where the API gave nothing."""

from __future__ import annotations

import datetime as dt

from connect_exporter.records import Names, flatten, iso_utc
from connect_exporter.schema import COLUMNS, CONTACT_COLUMNS

AT = dt.datetime(2026, 11, 24, 3, 45, tzinfo=dt.UTC)
UTC = dt.UTC


def full_item() -> dict:
    ref = lambda i: {"Id": i, "Arn": f"arn:{i}"}  # noqa: E731
    return {
        "User": ref("u1"),
        "RoutingProfile": ref("rp1"),
        "HierarchyPath": {
            "LevelOne": ref("g1"),
            "LevelTwo": ref("g2"),
            "LevelThree": ref("g3"),
            "LevelFour": ref("g4"),
            "LevelFive": ref("g5"),
        },
        "Status": {
            "StatusStartTimestamp": dt.datetime(2026, 11, 24, 3, 40, 29, 250000, tzinfo=UTC),
            "StatusArn": "arn:st",
            "StatusName": "Available",
        },
        "AvailableSlotsByChannel": {"VOICE": 0, "CHAT": 2},
        "MaxSlotsByChannel": {"VOICE": 1, "CHAT": 3},
        "ActiveSlotsByChannel": {"VOICE": 1, "CHAT": 1},
        "Contacts": [
            {
                "ContactId": "c1",
                "Channel": "VOICE",
                "InitiationMethod": "INBOUND",
                "AgentContactState": "CONNECTED",
                "StateStartTimestamp": dt.datetime(2026, 11, 24, 3, 44, 0, 5000, tzinfo=UTC),
                "ConnectedToAgentTimestamp": dt.datetime(2026, 11, 24, 3, 43, 59, tzinfo=UTC),
                "Queue": ref("q1"),
            }
        ],
        "NextStatus": "Lunch",
    }


NAMES = Names(
    users={"u1": "jdoe"},
    routing_profiles={"rp1": "Support"},
    hierarchy_groups={f"g{i}": f"group {i}" for i in range(1, 6)},
    queues={"q1": "BasicQueue"},
)


def test_every_field_is_flattened_with_names_and_iso_timestamps():
    record = flatten(full_item(), AT, NAMES, period_seconds=15)
    assert tuple(record) == tuple(c.name for c in COLUMNS)
    assert record == {
        "snapshot_time": "2026-11-24T03:45:00.000Z",
        "period_seconds": 15,
        "user_id": "u1",
        "user_arn": "arn:u1",
        "username": "jdoe",
        "routing_profile_id": "rp1",
        "routing_profile_arn": "arn:rp1",
        "routing_profile_name": "Support",
        **{f"hierarchy_level_{i}_id": f"g{i}" for i in range(1, 6)},
        **{f"hierarchy_level_{i}_name": f"group {i}" for i in range(1, 6)},
        "status_name": "Available",
        "status_arn": "arn:st",
        "status_start_time": "2026-11-24T03:40:29.250Z",
        "status_duration_seconds": 270.75,
        "next_status": "Lunch",
        "available_slots": {"VOICE": 0, "CHAT": 2},
        "max_slots": {"VOICE": 1, "CHAT": 3},
        "active_slots": {"VOICE": 1, "CHAT": 1},
        "contact_count": 1,
        "contacts": [
            {
                "contact_id": "c1",
                "channel": "VOICE",
                "initiation_method": "INBOUND",
                "agent_contact_state": "CONNECTED",
                "state_start_time": "2026-11-24T03:44:00.005Z",
                "connected_to_agent_time": "2026-11-24T03:43:59.000Z",
                "queue_id": "q1",
                "queue_name": "BasicQueue",
            }
        ],
    }
    assert tuple(record["contacts"][0]) == tuple(c.name for c in CONTACT_COLUMNS)


def test_missing_blocks_give_nulls_and_every_key_is_still_present():
    record = flatten({"User": {"Id": "u9", "Arn": "arn:u9"}, "Contacts": []}, AT, Names())
    assert tuple(record) == tuple(c.name for c in COLUMNS)
    assert record["user_id"] == "u9" and record["username"] is None
    nulls = [k for k, v in record.items() if v is None]
    assert set(nulls) == set(tuple(c.name for c in COLUMNS)) - {
        "snapshot_time",
        "user_id",
        "user_arn",
        "contact_count",
        "contacts",
    }
    assert record["contact_count"] == 0 and record["contacts"] == []


def test_unknown_ids_keep_the_id_with_a_null_name():
    item = full_item()
    record = flatten(item, AT, Names(users={"someone-else": "x"}))
    assert record["user_id"] == "u1" and record["username"] is None
    assert record["hierarchy_level_3_id"] == "g3" and record["hierarchy_level_3_name"] is None
    assert record["contacts"][0]["queue_id"] == "q1" and record["contacts"][0]["queue_name"] is None


def test_a_new_channel_key_is_kept_as_the_api_sent_it():
    item = full_item()
    item["MaxSlotsByChannel"]["VIDEO"] = 2
    assert flatten(item, AT, NAMES)["max_slots"] == {"VOICE": 1, "CHAT": 3, "VIDEO": 2}


def test_iso_utc_converts_other_zones_and_keeps_milliseconds():
    paris = dt.timezone(dt.timedelta(hours=1))
    assert iso_utc(dt.datetime(2026, 11, 24, 4, 45, 1, 999999, tzinfo=paris)) == "2026-11-24T03:45:01.999Z"
    assert iso_utc(None) is None


def test_a_status_duration_is_exact_to_the_millisecond_at_a_half_millisecond_tie():
    """Found by the flattening property test: two float epochs put 59.9905 s just above the tie (59.991);
    the exact difference of the two times rounds as the record's other times do (59.99)."""
    start = dt.datetime(2000, 1, 1, 0, 0, 0, 65566, tzinfo=dt.UTC)
    at = dt.datetime(2000, 1, 1, 0, 1, 0, 56066, tzinfo=dt.UTC)
    record = flatten({"Status": {"StatusStartTimestamp": start}}, at)
    assert record["status_duration_seconds"] == round((at - start).total_seconds(), 3) == 59.99
